// ChatTemplate: parse once, render per request.
#include "chat/chat_template.h"

#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"
#include "util/error.h"

namespace dragon::chat {

ChatTemplate ChatTemplate::parse(std::string source) {
  ChatTemplate t;
  auto normalized = std::make_shared<std::string>(jinja::normalize_template_source(source));
  t.body_ = std::make_shared<jinja::Body>(
      with_context("chat template", [&] { return jinja::parse_template(*normalized); }));
  t.source_ = std::move(normalized);
  return t;
}

namespace {

template <typename Json>
std::map<std::string, jinja::Value> variables_of(const Json& context) {
  if (!context.is_object()) fail("chat template context must be a JSON object");
  std::map<std::string, jinja::Value> vars;
  for (auto it = context.begin(); it != context.end(); ++it) vars[it.key()] = jinja::Value::from_json(it.value());
  return vars;
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return jinja::render_template(*source_, *body_, variables_of(context), limits_);
}

std::string ChatTemplate::render(const nlohmann::json& context) const {
  return jinja::render_template(*source_, *body_, variables_of(context), limits_);
}

nlohmann::ordered_json make_chat_context(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                         bool add_generation_prompt, const std::string& bos_token,
                                         const std::string& eos_token, const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["tools"] = tools;  // null when the request has none, as HF passes tools=None
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos_token;
  ctx["eos_token"] = eos_token;
  for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
  return ctx;
}

}  // namespace dragon::chat
