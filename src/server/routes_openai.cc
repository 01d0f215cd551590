// OpenAI's API: POST /v1/chat/completions, POST /v1/completions, GET /v1/models[/{id}].
// Response shapes follow the API reference (chat.completion / chat.completion.chunk /
// text_completion objects; usage with prompt_tokens_details.cached_tokens).
#include <fmt/format.h>

#include <optional>

#include "chat/reasoning_parser.h"
#include "server/api_error.h"
#include "server/choice_output.h"
#include "server/route_support.h"
#include "server/routes.h"
#include "server/sse.h"
#include "server/tool_choice.h"

namespace dragon::server {

using ojson = nlohmann::ordered_json;

namespace {

// A token as the logprobs objects show it: its text and its UTF-8 bytes (a token may hold part
// of a character, which only the bytes show exactly).
ojson token_logprob(const Tokenizer& tok, int32_t id, float logprob) {
  const std::string text = tok.token_bytes(id);
  ojson bytes = ojson::array();
  for (unsigned char c : text) bytes.push_back(int(c));
  return {{"token", text}, {"logprob", logprob}, {"bytes", bytes}};
}

ojson chat_logprob_entry(const Tokenizer& tok, const TokenEvent& t) {
  ojson e = token_logprob(tok, t.token, t.logprob ? t.logprob->logprob : 0.0f);
  ojson top = ojson::array();
  for (const TokenLogprob& alt : t.top) top.push_back(token_logprob(tok, alt.token, alt.logprob));
  e["top_logprobs"] = top;
  return e;
}

ojson usage_json(int64_t prompt, int64_t completion, int64_t cached) {
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

std::string finish_reason(const FinishEvent& f, int tool_calls) {
  if (f.reason == FinishReason::Stop) return tool_calls > 0 ? "tool_calls" : "stop";
  return finish_reason_text(f.reason);
}

ojson tool_call_json(const chat::ToolCall& call, int index, bool with_index) {
  ojson j = ojson::object();
  if (with_index) j["index"] = index;
  j["id"] = call.id.empty() ? random_id("call_") : call.id;
  j["type"] = "function";
  j["function"] = {{"name", call.name}, {"arguments", call.arguments}};
  return j;
}

// What all the choices of one request share while it runs.
struct ChatChoice {
  ChatChoice(const std::optional<chat::ReasoningTags>& reasoning, bool starts_in_reasoning, chat::ToolCallFormat format,
             const ojson& tools)
      : output(reasoning, starts_in_reasoning, format, nlohmann::json::parse(tools.dump())) {}
  ChoiceOutput output;
  std::string reasoning, content;
  std::vector<chat::ToolCall> calls;
  ojson logprobs = ojson::array();
  std::optional<FinishEvent> finish;
  int64_t tokens = 0;

  void add(OutputDelta d) {
    reasoning += d.reasoning;
    content += d.content;
    for (auto& c : d.calls) calls.push_back(std::move(c));
  }
};

struct Usage {
  int64_t prompt = 0, completion = 0, cached = 0;
  void add(const FinishEvent& f) {
    prompt = f.prompt_tokens;
    cached = f.cached_tokens;
    completion += f.completion_tokens;
  }
};

void chat_completions(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ojson body = parse_json_body(req.body);
  const ChatRequest cr = parse_chat_request(body, ctx.model.tokenizer->n_vocab());
  check_model_name(ctx, cr.fields.model, ErrorStyle::OpenAI);
  const std::string prompt_text = ctx.model.render_chat(cr.messages, cr.tools, cr.template_kwargs);
  const std::vector<int32_t> prompt = ctx.model.tokenize(prompt_text);
  std::vector<GenerationRequest> requests = make_requests(ctx, prompt, cr.fields);
  const int64_t n_prompt = int64_t(prompt.size());
  if (cr.tool_required)
    for (auto& r : requests) r.constraint = forced_tool_call_constraint(ctx.model, cr.tools, cr.tool_name, r.max_tokens);

  // Thinking templates write <think>...</think>; some open it in the prompt already.
  std::optional<chat::ReasoningTags> reasoning = ctx.model.reasoning_tags();
  // A constrained answer (JSON, a forced call) is written from its first token: no reasoning in
  // it, even when the template opened <think> (and a "<think>" inside a JSON string is text).
  const bool constrained = !requests.empty() && requests[0].constraint != nullptr;
  if (constrained) reasoning.reset();
  const bool starts_in_reasoning = reasoning && chat::prompt_opens_reasoning(prompt_text, *reasoning);
  const chat::ToolCallFormat tool_format = cr.tools.is_null() ? chat::ToolCallFormat::None : ctx.model.tool_format;
  const bool want_logprobs = cr.fields.top_logprobs >= 0;

  auto choices = std::make_shared<std::vector<ChatChoice>>();
  for (int i = 0; i < cr.fields.n; ++i) choices->emplace_back(reasoning, starts_in_reasoning, tool_format, cr.tools);
  auto session = GenerationSession::start(ctx.backend, std::move(requests), &ctx.metrics);
  const std::string id = random_id("chatcmpl-");
  const int64_t created = unix_time();
  const std::string model = ctx.model.name;
  const Tokenizer& tok = *ctx.model.tokenizer;

  if (!cr.fields.stream) {
    Usage usage;
    collect(ctx, *session, [&](const SessionEvent& ev) {
      ChatChoice& c = (*choices)[ev.index];
      if (ev.token) {
        ++c.tokens;
        c.add(c.output.push(ev.token->text));
        if (want_logprobs) c.logprobs.push_back(chat_logprob_entry(tok, *ev.token));
      } else {
        c.add(c.output.push(ev.finish->text));
        c.add(c.output.finish());
        c.finish = *ev.finish;
        usage.add(*ev.finish);
      }
    });
    ojson out_choices = ojson::array();
    for (size_t i = 0; i < choices->size(); ++i) {
      ChatChoice& c = (*choices)[i];
      if (c.finish->reason == FinishReason::Error) throw ApiError(500, "generation failed: " + c.finish->error);
      ojson message = {{"role", "assistant"}};
      message["content"] = c.content.empty() && !c.calls.empty() ? ojson(nullptr) : ojson(c.content);
      if (reasoning) message["reasoning_content"] = c.reasoning.empty() ? ojson(nullptr) : ojson(c.reasoning);
      if (!c.calls.empty()) {
        message["tool_calls"] = ojson::array();
        for (size_t k = 0; k < c.calls.size(); ++k) message["tool_calls"].push_back(tool_call_json(c.calls[k], int(k), false));
      }
      out_choices.push_back({{"index", i},
                             {"message", message},
                             {"logprobs", want_logprobs ? ojson{{"content", c.logprobs}} : ojson(nullptr)},
                             {"finish_reason", finish_reason(*c.finish, int(c.calls.size()))}});
    }
    if (usage.prompt == 0) usage.prompt = n_prompt;
    send_json(res, 200,
              {{"id", id},
               {"object", "chat.completion"},
               {"created", created},
               {"model", model},
               {"system_fingerprint", "dragon"},
               {"choices", out_choices},
               {"usage", usage_json(usage.prompt, usage.completion, usage.cached)}});
    return;
  }

  // Streaming: chat.completion.chunk events, then the usage chunk when asked for, then [DONE].
  const bool include_usage = cr.fields.include_usage;
  auto usage = std::make_shared<Usage>();
  auto chunk = [=](ojson choices_json) {
    ojson j = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
               {"system_fingerprint", "dragon"}, {"choices", std::move(choices_json)}};
    if (include_usage) j["usage"] = nullptr;
    return sse_event(j);
  };
  auto delta_choice = [](int index, const OutputDelta& d, ChatChoice& c, const ojson* logprobs) {
    ojson delta = ojson::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!d.calls.empty()) {
      delta["tool_calls"] = ojson::array();
      for (const auto& call : d.calls) delta["tool_calls"].push_back(tool_call_json(call, int(c.calls.size()) + int(&call - d.calls.data()), true));
    }
    ojson choice = {{"index", index}, {"delta", delta}, {"logprobs", logprobs ? *logprobs : ojson(nullptr)}, {"finish_reason", nullptr}};
    return choice;
  };
  std::string opening;
  for (int i = 0; i < cr.fields.n; ++i)
    opening += chunk(ojson::array({{{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}}));
  auto opened = std::make_shared<bool>(false);
  stream(
      ctx, res, session, "text/event-stream",
      [=, &tok](const SessionEvent& ev) {
        std::string out;
        if (!*opened) {
          out += opening;
          *opened = true;
        }
        ChatChoice& c = (*choices)[ev.index];
        if (ev.token) {
          ++c.tokens;
          const OutputDelta d = c.output.push(ev.token->text);
          ojson lp;
          if (want_logprobs) lp = {{"content", ojson::array({chat_logprob_entry(tok, *ev.token)})}};
          if (!d.empty() || want_logprobs) out += chunk(ojson::array({delta_choice(ev.index, d, c, want_logprobs ? &lp : nullptr)}));
          c.add(d);
          return out;
        }
        OutputDelta d = c.output.push(ev.finish->text);
        OutputDelta tail = c.output.finish();
        d.reasoning += tail.reasoning;
        d.content += tail.content;
        for (auto& call : tail.calls) d.calls.push_back(std::move(call));
        if (!d.empty()) out += chunk(ojson::array({delta_choice(ev.index, d, c, nullptr)}));
        c.add(d);
        usage->add(*ev.finish);
        ojson last = {{"index", ev.index}, {"delta", ojson::object()}, {"logprobs", nullptr},
                      {"finish_reason", finish_reason(*ev.finish, int(c.calls.size()))}};
        out += chunk(ojson::array({last}));
        return out;
      },
      [=]() {
        std::string out = *opened ? "" : opening;
        if (include_usage) {
          if (usage->prompt == 0) usage->prompt = n_prompt;
          out += sse_event({{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
                            {"system_fingerprint", "dragon"}, {"choices", ojson::array()},
                            {"usage", usage_json(usage->prompt, usage->completion, usage->cached)}});
        }
        return out + kSseDone;
      },
      /*heartbeat_comments=*/true);
}

// The legacy completions API: the prompt as given (no chat template).
void completions(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ojson body = parse_json_body(req.body);
  const CompletionRequest cr = parse_completion_request(body, ctx.model.tokenizer->n_vocab());
  check_model_name(ctx, cr.fields.model, ErrorStyle::OpenAI);
  const Tokenizer& tok = *ctx.model.tokenizer;
  const std::vector<int32_t> prompt = cr.prompt_tokens.empty() ? tok.encode(cr.prompt, true, true) : cr.prompt_tokens;
  const std::string prompt_text = cr.prompt_tokens.empty() ? cr.prompt : tok.decode(cr.prompt_tokens);
  std::vector<GenerationRequest> requests = make_requests(ctx, prompt, cr.fields);
  const int64_t n_prompt = int64_t(prompt.size());
  const bool want_logprobs = cr.fields.top_logprobs >= 0;
  auto session = GenerationSession::start(ctx.backend, std::move(requests), &ctx.metrics);
  const std::string id = random_id("cmpl-");
  const int64_t created = unix_time();
  const std::string model = ctx.model.name;

  struct Choice {
    std::string text;
    ojson tokens = ojson::array(), token_logprobs = ojson::array(), top = ojson::array(), offsets = ojson::array();
    std::optional<FinishEvent> finish;
  };
  auto choices = std::make_shared<std::vector<Choice>>(cr.fields.n);
  if (cr.echo)
    for (auto& c : *choices) c.text = prompt_text;
  // Appends one token's logprobs (legacy shape: parallel arrays, top as {token: logprob}).
  auto add_logprobs = [&tok](Choice& c, const TokenEvent& t, size_t offset) {
    c.tokens.push_back(tok.token_bytes(t.token));
    c.token_logprobs.push_back(t.logprob ? t.logprob->logprob : 0.0f);
    ojson top = ojson::object();
    for (const auto& alt : t.top) top[tok.token_bytes(alt.token)] = alt.logprob;
    c.top.push_back(top);
    c.offsets.push_back(offset);
  };
  auto logprobs_json = [](const Choice& c) {
    return ojson{{"tokens", c.tokens}, {"token_logprobs", c.token_logprobs}, {"top_logprobs", c.top}, {"text_offset", c.offsets}};
  };

  if (!cr.fields.stream) {
    Usage usage;
    collect(ctx, *session, [&](const SessionEvent& ev) {
      Choice& c = (*choices)[ev.index];
      if (ev.token) {
        if (want_logprobs) add_logprobs(c, *ev.token, c.text.size());
        c.text += ev.token->text;
      } else {
        c.text += ev.finish->text;
        c.finish = *ev.finish;
        usage.add(*ev.finish);
      }
    });
    ojson out = ojson::array();
    for (size_t i = 0; i < choices->size(); ++i) {
      const Choice& c = (*choices)[i];
      if (c.finish->reason == FinishReason::Error) throw ApiError(500, "generation failed: " + c.finish->error);
      out.push_back({{"text", c.text}, {"index", i}, {"logprobs", want_logprobs ? logprobs_json(c) : ojson(nullptr)},
                     {"finish_reason", finish_reason(*c.finish, 0)}});
    }
    if (usage.prompt == 0) usage.prompt = n_prompt;
    send_json(res, 200, {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                         {"system_fingerprint", "dragon"}, {"choices", out},
                         {"usage", usage_json(usage.prompt, usage.completion, usage.cached)}});
    return;
  }

  const bool include_usage = cr.fields.include_usage;
  auto usage = std::make_shared<Usage>();
  auto chunk = [=](const ojson& choice) {
    ojson j = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
               {"system_fingerprint", "dragon"}, {"choices", ojson::array({choice})}};
    if (include_usage) j["usage"] = nullptr;
    return sse_event(j);
  };
  auto echoed = std::make_shared<std::vector<bool>>(cr.fields.n, !cr.echo);
  stream(
      ctx, res, session, "text/event-stream",
      [=](const SessionEvent& ev) {
        Choice c;  // this event's part only
        std::string text;
        if (!(*echoed)[ev.index]) {
          text = prompt_text;
          (*echoed)[ev.index] = true;
        }
        if (ev.token) {
          if (want_logprobs) add_logprobs(c, *ev.token, 0);
          text += ev.token->text;
          return chunk({{"text", text}, {"index", ev.index}, {"logprobs", want_logprobs ? logprobs_json(c) : ojson(nullptr)},
                        {"finish_reason", nullptr}});
        }
        usage->add(*ev.finish);
        return chunk({{"text", text + ev.finish->text}, {"index", ev.index}, {"logprobs", nullptr},
                      {"finish_reason", finish_reason(*ev.finish, 0)}});
      },
      [=]() {
        std::string out;
        if (include_usage) {
          if (usage->prompt == 0) usage->prompt = n_prompt;
          out += sse_event({{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
                            {"choices", ojson::array()}, {"usage", usage_json(usage->prompt, usage->completion, usage->cached)}});
        }
        return out + kSseDone;
      },
      /*heartbeat_comments=*/true);
}

ojson model_json(const ServerContext& ctx) {
  return {{"id", ctx.model.name}, {"object", "model"}, {"created", ctx.model.created}, {"owned_by", "dragon"},
          {"max_model_len", ctx.model.n_ctx}};
}

}  // namespace

void register_openai_routes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/v1/chat/completions", ErrorStyle::OpenAI, [&] { chat_completions(ctx, req, res); });
  });
  http.Post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/v1/completions", ErrorStyle::OpenAI, [&] { completions(ctx, req, res); });
  });
  http.Get("/v1/models", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/v1/models", ErrorStyle::OpenAI,
            [&] { send_json(res, 200, {{"object", "list"}, {"data", ojson::array({model_json(ctx)})}}); });
  });
  http.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/v1/models/{id}", ErrorStyle::OpenAI, [&] {
      check_model_name(ctx, req.matches[1].str(), ErrorStyle::OpenAI);
      send_json(res, 200, model_json(ctx));
    });
  });
}

}  // namespace dragon::server
