// Ollama's API, so Ollama clients work unchanged: POST /api/chat, POST /api/generate (NDJSON
// streaming by default, one JSON object with "stream": false), GET /api/tags, POST /api/show,
// GET /api/version. Options map onto the same engine requests as OpenAI's fields:
// options.{temperature, top_p, top_k, min_p, seed, num_predict, stop, repeat_penalty,
// presence_penalty, frequency_penalty}, format "json" (or a schema) -> JSON-constrained output,
// think -> the template's enable_thinking and reasoning in message.thinking.
#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "chat/reasoning_parser.h"
#include "server/api_error.h"
#include "server/choice_output.h"
#include "server/route_support.h"
#include "server/routes.h"
#include "server/sse.h"

namespace dragon::server {

using ojson = nlohmann::ordered_json;

namespace {

std::string iso_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ns);
}

// body[key] as a bool / a string, `fallback` when absent or null; any other type is a 400 (json's
// value() would throw a type_error, which the routes answer with a 500).
bool bool_or(const ojson& body, const char* key, bool fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_boolean()) bad_request(key, fmt::format("{}: expected true or false", key));
  return body[key].get<bool>();
}
std::string string_or(const ojson& body, const char* key, const std::string& fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_string()) bad_request(key, fmt::format("{}: expected a string", key));
  return body[key].get<std::string>();
}

// Ollama's body -> the OpenAI-shaped fields the shared parser checks.
GenerationFields ollama_fields(const ojson& body, int64_t n_vocab) {
  ojson o = ojson::object();
  if (body.contains("model")) o["model"] = body["model"];
  o["stream"] = bool_or(body, "stream", true);
  if (body.contains("options") && !body["options"].is_null()) {
    const ojson& opt = body["options"];
    if (!opt.is_object()) bad_request("options", "options: expected an object");
    for (const char* key : {"temperature", "top_p", "top_k", "min_p", "seed", "stop", "presence_penalty", "frequency_penalty"})
      if (opt.contains(key)) o[key] = opt[key];
    if (opt.contains("repeat_penalty")) o["repetition_penalty"] = opt["repeat_penalty"];
    if (opt.contains("num_predict") && opt["num_predict"].is_number_integer() && opt["num_predict"].get<int64_t>() > 0)
      o["max_tokens"] = opt["num_predict"];
  }
  if (!o.contains("temperature")) o["temperature"] = 0.8;  // Ollama's default
  if (body.contains("format") && !body["format"].is_null() && body["format"] != "")
    o["response_format"] = body["format"].is_object()
                               ? ojson{{"type", "json_schema"}, {"json_schema", {{"name", "format"}, {"schema", body["format"]}}}}
                               : ojson{{"type", "json_object"}};
  GenerationFields f = parse_chat_request([&] {
                          ojson c = o;
                          c["messages"] = ojson::array({{{"role", "user"}, {"content", ""}}});
                          return c;
                        }(), n_vocab).fields;
  return f;
}

struct Totals {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  FinishEvent finish;
};

// The final object Ollama sends: done, the reason and the timings (nanoseconds).
void add_final_fields(ojson& j, const FinishEvent& f, std::chrono::steady_clock::time_point start) {
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  j["done"] = true;
  j["done_reason"] = f.reason == FinishReason::Length ? "length" : f.reason == FinishReason::Stop ? "stop" : finish_reason_text(f.reason);
  j["total_duration"] = int64_t(total * 1e9);
  j["load_duration"] = 0;
  j["prompt_eval_count"] = f.prompt_tokens;
  j["prompt_eval_duration"] = int64_t(f.time_to_first_token_s * 1e9);
  j["eval_count"] = f.completion_tokens;
  j["eval_duration"] = int64_t(std::max(0.0, f.total_s - f.time_to_first_token_s) * 1e9);
}

// Runs one generation for /api/chat (chat = true) or /api/generate and answers it.
void run_generation(ServerContext& ctx, httplib::Response& res, const std::string& prompt_text, bool chat,
                    const GenerationFields& fields, std::optional<chat::ReasoningTags> thinking) {
  const std::vector<int32_t> prompt = ctx.model.tokenize(prompt_text);
  GenerationFields f = fields;
  f.n = 1;
  std::vector<GenerationRequest> requests = make_requests(ctx, prompt, f);
  // A format-constrained answer is JSON from its first token: no thinking to split out.
  if (f.response_format != ResponseFormat::Text) thinking.reset();
  const bool starts_in_reasoning = thinking && chat::prompt_opens_reasoning(prompt_text, *thinking);
  auto output = std::make_shared<ChoiceOutput>(thinking, starts_in_reasoning, chat::ToolCallFormat::None);
  auto session = GenerationSession::start(ctx.backend, std::move(requests), &ctx.metrics);
  const auto start = std::chrono::steady_clock::now();
  const std::string model = ctx.model.name;
  const auto piece = [chat, model](const OutputDelta& d) {
    ojson j = {{"model", model}, {"created_at", iso_time_now()}};
    if (chat) {
      j["message"] = {{"role", "assistant"}, {"content", d.content}};
      if (!d.reasoning.empty()) j["message"]["thinking"] = d.reasoning;
    } else {
      j["response"] = d.content;
      if (!d.reasoning.empty()) j["thinking"] = d.reasoning;
    }
    j["done"] = false;
    return j;
  };
  if (!f.stream) {
    OutputDelta all;
    FinishEvent finish;
    collect(ctx, *session, [&](const SessionEvent& ev) {
      OutputDelta d = output->push(ev.token ? ev.token->text : ev.finish->text);
      all.reasoning += d.reasoning;
      all.content += d.content;
      if (ev.finish) {
        d = output->finish();
        all.reasoning += d.reasoning;
        all.content += d.content;
        finish = *ev.finish;
      }
    });
    if (finish.reason == FinishReason::Error) throw ApiError(500, "generation failed: " + finish.error);
    ojson j = piece(all);
    if (!chat) j["context"] = ojson::array();
    add_final_fields(j, finish, start);
    send_json(res, 200, j);
    return;
  }
  stream(
      ctx, res, session, "application/x-ndjson",
      [=](const SessionEvent& ev) {
        OutputDelta d = output->push(ev.token ? ev.token->text : ev.finish->text);
        std::string out;
        if (ev.finish) {
          OutputDelta tail = output->finish();
          d.reasoning += tail.reasoning;
          d.content += tail.content;
          ojson j = piece(d);
          add_final_fields(j, *ev.finish, start);
          return ndjson_line(j);
        }
        if (!d.empty()) out = ndjson_line(piece(d));
        return out;
      },
      [] { return std::string(); }, /*heartbeat_comments=*/false);
}

void api_chat(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ojson body = parse_json_body(req.body);
  const GenerationFields f = ollama_fields(body, ctx.model.tokenizer->n_vocab());
  check_model_name(ctx, f.model, ErrorStyle::Ollama);
  ojson openai = {{"messages", body.value("messages", ojson())}};
  if (body.contains("tools")) openai["tools"] = body["tools"];
  const ChatRequest cr = parse_chat_request(openai, ctx.model.tokenizer->n_vocab());
  ojson kwargs = cr.template_kwargs;
  if (body.contains("think") && body["think"].is_boolean()) kwargs["enable_thinking"] = body["think"].get<bool>();
  const std::string prompt = ctx.model.render_chat(cr.messages, cr.tools, kwargs);
  run_generation(ctx, res, prompt, true, f, ctx.model.reasoning_tags());
}

void api_generate(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ojson body = parse_json_body(req.body);
  const GenerationFields f = ollama_fields(body, ctx.model.tokenizer->n_vocab());
  check_model_name(ctx, f.model, ErrorStyle::Ollama);
  if (!body.contains("prompt") || !body["prompt"].is_string()) bad_request("prompt", "prompt: expected a string");
  const std::string user = body["prompt"].get<std::string>();
  if (user.empty()) {
    // Ollama answers an empty prompt with "done" at once (clients use it to load a model).
    send_json(res, 200, {{"model", ctx.model.name}, {"created_at", iso_time_now()}, {"response", ""}, {"done", true},
                         {"done_reason", "load"}});
    return;
  }
  std::string prompt;
  if (bool_or(body, "raw", false)) {
    prompt = user;
  } else {
    ojson messages = ojson::array();
    if (body.contains("system") && body["system"].is_string()) messages.push_back({{"role", "system"}, {"content", body["system"]}});
    messages.push_back({{"role", "user"}, {"content", user}});
    ojson kwargs = ojson::object();
    if (body.contains("think") && body["think"].is_boolean()) kwargs["enable_thinking"] = body["think"].get<bool>();
    prompt = ctx.model.render_chat(messages, nullptr, kwargs);
  }
  // A raw prompt is the client's own: its answer is not split.
  run_generation(ctx, res, prompt, false, f, bool_or(body, "raw", false) ? std::nullopt : ctx.model.reasoning_tags());
}

ojson model_details(const ServerContext& ctx) {
  ojson d = {{"parent_model", ""}, {"format", ctx.model.path.ends_with(".gguf") ? "gguf" : "safetensors"}};
  for (const char* key : {"family", "parameter_size", "quantization_level"})
    d[key] = ctx.model.details.is_object() ? ctx.model.details.value(key, "") : "";
  d["families"] = ojson::array({d["family"]});
  return d;
}

void api_tags(ServerContext& ctx, httplib::Response& res) {
  const std::string name = ctx.model.name.find(':') == std::string::npos ? ctx.model.name + ":latest" : ctx.model.name;
  ojson m = {{"name", name},
             {"model", name},
             {"modified_at", iso_time_now()},
             {"size", ctx.model.size_bytes},
             {"digest", fmt::format("{:016x}", std::hash<std::string>{}(ctx.model.path))},
             {"details", model_details(ctx)}};
  send_json(res, 200, {{"models", ojson::array({m})}});
}

void api_show(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ojson body = parse_json_body(req.body);
  std::string name = string_or(body, "model", string_or(body, "name", ""));
  check_model_name(ctx, name, ErrorStyle::Ollama);
  ojson info = ojson::object();
  if (ctx.model.details.is_object())
    for (const auto& [k, v] : ctx.model.details.items()) info[k] = v;
  info["context_length"] = ctx.model.n_ctx;
  send_json(res, 200,
            {{"modelfile", fmt::format("FROM {}\n", ctx.model.path)},
             {"parameters", ""},
             {"template", ctx.model.chat_template.source},
             {"details", model_details(ctx)},
             {"model_info", info},
             {"capabilities", ctx.model.tool_format != chat::ToolCallFormat::None ? ojson::array({"completion", "tools"})
                                                                                 : ojson::array({"completion"})}});
}

}  // namespace

void register_ollama_routes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/api/chat", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/api/chat", ErrorStyle::Ollama, [&] { api_chat(ctx, req, res); });
  });
  http.Post("/api/generate", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/api/generate", ErrorStyle::Ollama, [&] { api_generate(ctx, req, res); });
  });
  http.Get("/api/tags", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/api/tags", ErrorStyle::Ollama, [&] { api_tags(ctx, res); });
  });
  http.Post("/api/show", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/api/show", ErrorStyle::Ollama, [&] { api_show(ctx, req, res); });
  });
  http.Get("/api/version", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/api/version", ErrorStyle::Ollama, [&] { send_json(res, 200, {{"version", "0.6.0"}}); });
  });
}

}  // namespace dragon::server
