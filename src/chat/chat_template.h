// A model's chat template: Jinja source rendered exactly as HF transformers renders it
// (jinja2 ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
// {% generation %}, tojson = json.dumps(ensure_ascii=False), raise_exception, strftime_now).
//
//   auto t = ChatTemplate::parse(source);            // throws dragon::Error with line/column
//   std::string prompt = t.render(context);          // context: messages, tools, bos_token...
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "chat/jinja_ast.h"
#include "chat/jinja_interpreter.h"

namespace dragon::chat {

class ChatTemplate {
 public:
  static ChatTemplate parse(std::string source);

  // `context` is a JSON object; each key becomes a template variable (messages, tools,
  // add_generation_prompt, bos_token, eos_token, enable_thinking, ...). Pass an ordered_json to
  // keep object key order as the request had it (what Python's json.loads keeps, and what
  // tojson then prints); a plain nlohmann::json has its keys sorted already.
  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::json& context) const;

  const std::string& source() const { return *source_; }
  jinja::RenderLimits& limits() { return limits_; }

 private:
  ChatTemplate() = default;
  std::shared_ptr<const std::string> source_;  // normalized source, for error positions
  std::shared_ptr<const jinja::Body> body_;
  jinja::RenderLimits limits_;
};

// Builds the context HF's apply_chat_template passes: messages, tools (None when absent),
// documents (None), add_generation_prompt, bos_token, eos_token, then `extra` on top.
nlohmann::ordered_json make_chat_context(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                         bool add_generation_prompt, const std::string& bos_token,
                                         const std::string& eos_token, const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

}  // namespace dragon::chat
