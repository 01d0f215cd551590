#include "server/openai_request.h"

#include <fmt/format.h>

#include "server/api_error.h"
#include "util/error.h"

namespace dragon::server {

using ojson = nlohmann::ordered_json;

namespace {

double number_field(const ojson& body, const char* key, double lo, double hi) {
  const ojson& v = body[key];
  if (!v.is_number()) bad_request(key, fmt::format("{}: expected a number", key));
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) bad_request(key, fmt::format("{}: must be between {} and {}, got {}", key, lo, hi, x));
  return x;
}

int64_t integer_field(const ojson& body, const char* key, int64_t lo, int64_t hi) {
  const ojson& v = body[key];
  if (!v.is_number_integer()) bad_request(key, fmt::format("{}: expected an integer", key));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad_request(key, fmt::format("{}: must be between {} and {}, got {}", key, lo, hi, x));
  return x;
}

bool bool_field(const ojson& body, const char* key) {
  const ojson& v = body[key];
  if (!v.is_boolean()) bad_request(key, fmt::format("{}: expected true or false", key));
  return v.get<bool>();
}

bool present(const ojson& body, const char* key) { return body.contains(key) && !body[key].is_null(); }

// response_format {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": bool}}.
// A schema outside the subset constrained decoding enforces is a 400 naming the keyword.
std::shared_ptr<const JsonSchema> compile_response_schema(const ojson& rf) {
  const char* param = "response_format";
  if (!present(rf, "json_schema") || !rf["json_schema"].is_object())
    bad_request(param, "response_format.json_schema: expected an object with the schema");
  const ojson& js = rf["json_schema"];
  if (present(js, "name") && !js["name"].is_string()) bad_request(param, "response_format.json_schema.name: expected a string");
  bool strict = false;
  if (present(js, "strict")) {
    if (!js["strict"].is_boolean()) bad_request(param, "response_format.json_schema.strict: expected true or false");
    strict = js["strict"].get<bool>();
  }
  // No schema: any JSON object, as json_object.
  if (!present(js, "schema")) return JsonSchema::any(/*object_only=*/true);
  try {
    // The schema travels as plain JSON (its key order does not matter to the compiler).
    return JsonSchema::compile(nlohmann::json::parse(js["schema"].dump()), strict);
  } catch (const Error& e) {
    bad_request(param, std::string("response_format.json_schema.") + e.what());
  }
}

GenerationFields parse_fields(const ojson& body, int64_t n_vocab, bool chat) {
  GenerationFields f;
  if (present(body, "model")) {
    if (!body["model"].is_string()) bad_request("model", "model: expected a string");
    f.model = body["model"].get<std::string>();
  }
  SamplingParams& s = f.sampling;
  s.temperature = 1.0f;  // OpenAI's default
  if (present(body, "temperature")) s.temperature = float(number_field(body, "temperature", 0, 2));
  if (present(body, "top_p")) s.top_p = float(number_field(body, "top_p", 0, 1));
  if (s.top_p <= 0.0f) s.top_p = 1e-6f;  // top_p 0: keep only the most likely token
  // Extensions vLLM and llama.cpp's server accept as well.
  if (present(body, "top_k")) s.top_k = int32_t(integer_field(body, "top_k", -1, 1 << 30));
  if (s.top_k < 0) s.top_k = 0;
  if (present(body, "min_p")) s.min_p = float(number_field(body, "min_p", 0, 1));
  if (present(body, "repetition_penalty")) s.repetition_penalty = float(number_field(body, "repetition_penalty", 0.01, 10));
  if (present(body, "presence_penalty")) s.presence_penalty = float(number_field(body, "presence_penalty", -2, 2));
  if (present(body, "frequency_penalty")) s.frequency_penalty = float(number_field(body, "frequency_penalty", -2, 2));
  if (present(body, "seed")) {
    const ojson& v = body["seed"];
    if (!v.is_number_integer()) bad_request("seed", "seed: expected an integer");
    f.seed = v.is_number_unsigned() ? v.get<uint64_t>() : uint64_t(v.get<int64_t>());
  }
  if (present(body, "logit_bias")) {
    const ojson& bias = body["logit_bias"];
    if (!bias.is_object()) bad_request("logit_bias", "logit_bias: expected an object mapping token ids to numbers");
    for (const auto& [key, value] : bias.items()) {
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(key, &used);
        if (used != key.size()) id = -1;
      } catch (const std::exception&) {
      }
      if (id < 0 || id >= n_vocab)
        bad_request("logit_bias", fmt::format("logit_bias: key {:?} is not a token id in [0, {})", key, n_vocab));
      if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100)
        bad_request("logit_bias", fmt::format("logit_bias[{}]: expected a number between -100 and 100", key));
      s.logit_bias.emplace_back(int32_t(id), value.get<float>());
    }
  }
  // max_completion_tokens is the newer name; it wins when both are given.
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (present(body, key)) f.max_tokens = integer_field(body, key, 1, int64_t{1} << 40);
  if (present(body, "stop")) {
    const ojson& stop = body["stop"];
    if (stop.is_string()) {
      f.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array()) {
      for (const auto& s1 : stop) {
        if (!s1.is_string()) bad_request("stop", "stop: expected a string or a list of strings");
        f.stop.push_back(s1.get<std::string>());
      }
    } else {
      bad_request("stop", "stop: expected a string or a list of strings");
    }
    for (const auto& s1 : f.stop)
      if (s1.empty()) bad_request("stop", "stop: empty stop strings are not allowed");
  }
  if (present(body, "n")) f.n = int(integer_field(body, "n", 1, 16));
  if (present(body, "stream")) f.stream = bool_field(body, "stream");
  if (present(body, "stream_options")) {
    const ojson& so = body["stream_options"];
    if (!so.is_object()) bad_request("stream_options", "stream_options: expected an object");
    if (!f.stream) bad_request("stream_options", "stream_options: only allowed when stream is true");
    if (present(so, "include_usage")) f.include_usage = bool_field(so, "include_usage");
  }
  if (present(body, "ignore_eos")) f.ignore_eos = bool_field(body, "ignore_eos");
  if (chat) {
    const bool want = present(body, "logprobs") && bool_field(body, "logprobs");
    if (present(body, "top_logprobs")) {
      if (!want) bad_request("top_logprobs", "top_logprobs: requires logprobs to be true");
      f.top_logprobs = int(integer_field(body, "top_logprobs", 0, 20));
    } else if (want) {
      f.top_logprobs = 0;
    }
  } else if (present(body, "logprobs")) {
    // Legacy completions: logprobs is the number of alternatives (0..5, we allow 20).
    f.top_logprobs = int(integer_field(body, "logprobs", 0, 20));
  }
  if (present(body, "response_format")) {
    const ojson& rf = body["response_format"];
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
      bad_request("response_format", "response_format: expected an object with a \"type\"");
    const std::string type = rf["type"].get<std::string>();
    if (type == "json_object")
      f.response_format = ResponseFormat::JsonObject, f.json_schema = JsonSchema::any(/*object_only=*/true);
    else if (type == "json_schema")
      f.response_format = ResponseFormat::JsonSchema, f.json_schema = compile_response_schema(rf);
    else if (type != "text")
      bad_request("response_format", fmt::format("response_format.type: {:?} is not one of text, json_object, json_schema", type));
  }
  return f;
}

// One message as the templates expect it: content a string; the other keys kept.
ojson normalize_message(const ojson& m, size_t index) {
  const std::string where = fmt::format("messages[{}]", index);
  if (!m.is_object()) bad_request("messages", where + ": expected an object");
  if (!m.contains("role") || !m["role"].is_string()) bad_request("messages", where + ".role: expected a string");
  const std::string role = m["role"].get<std::string>();
  static const char* const kRoles[] = {"system", "developer", "user", "assistant", "tool", "function"};
  if (std::find_if(std::begin(kRoles), std::end(kRoles), [&](const char* r) { return role == r; }) == std::end(kRoles))
    bad_request("messages", fmt::format("{}.role: {:?} is not one of system, developer, user, assistant, tool", where, role));
  ojson out = ojson::object();
  // "developer" is the newer name of "system"; the open models' templates know only "system".
  out["role"] = role == "developer" ? "system" : role;
  const bool may_omit_content = role == "assistant" && m.contains("tool_calls");
  if (!m.contains("content") && !may_omit_content) bad_request("messages", where + ".content: missing");
  out["content"] = m.contains("content") ? message_text(m["content"], where + ".content") : std::string();
  for (const auto& [key, value] : m.items())
    if (key != "role" && key != "content") out[key] = value;
  if (out.contains("tool_calls")) {
    // The templates read function.arguments as an object or as text; OpenAI sends text. Give
    // them the object when the text is JSON, as HF chat templates are written for dicts.
    for (auto& call : out["tool_calls"])
      if (call.is_object() && call.contains("function") && call["function"].contains("arguments") &&
          call["function"]["arguments"].is_string()) {
        const ojson args = ojson::parse(call["function"]["arguments"].get<std::string>(), nullptr, false);
        if (!args.is_discarded()) call["function"]["arguments"] = args;
      }
  }
  return out;
}

}  // namespace

ojson parse_json_body(const std::string& body) {
  if (body.empty()) bad_request("", "the request body is empty; expected a JSON object");
  ojson j;
  try {
    j = ojson::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, or out_of_range for a number beyond double's range (1e999).
    bad_request("", fmt::format("the request body is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) bad_request("", "the request body must be a JSON object");
  return j;
}

std::string message_text(const ojson& content, const std::string& where) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad_request("messages", where + ": expected a string or a list of content parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const ojson& part = content[i];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      bad_request("messages", fmt::format("{}[{}]: expected a content part with a \"type\"", where, i));
    const std::string type = part["type"].get<std::string>();
    if (type != "text")
      bad_request("messages", fmt::format("{}[{}]: content parts of type {:?} are not supported (text only)", where, i, type));
    if (!part.contains("text") || !part["text"].is_string())
      bad_request("messages", fmt::format("{}[{}].text: expected a string", where, i));
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

ChatRequest parse_chat_request(const ojson& body, int64_t n_vocab) {
  ChatRequest r;
  r.fields = parse_fields(body, n_vocab, true);
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
    bad_request("messages", "messages: expected a non-empty list of messages");
  r.messages = ojson::array();
  for (size_t i = 0; i < body["messages"].size(); ++i) r.messages.push_back(normalize_message(body["messages"][i], i));
  bool tools_off = false;
  if (present(body, "tool_choice")) {
    const ojson& tc = body["tool_choice"];
    if (tc.is_string()) {
      const std::string choice = tc.get<std::string>();
      if (choice != "none" && choice != "auto" && choice != "required")
        bad_request("tool_choice", fmt::format("tool_choice: {:?} is not one of none, auto, required", choice));
      tools_off = choice == "none";
      r.tool_required = choice == "required";
    } else if (tc.is_object()) {
      if (!tc.contains("function") || !tc["function"].is_object() || !tc["function"].contains("name") ||
          !tc["function"]["name"].is_string())
        bad_request("tool_choice", "tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": ...}}");
      r.tool_required = true;
      r.tool_name = tc["function"]["name"].get<std::string>();
    } else {
      bad_request("tool_choice", "tool_choice: expected a string or an object");
    }
  }
  if (present(body, "tools")) {
    const ojson& tools = body["tools"];
    if (!tools.is_array()) bad_request("tools", "tools: expected a list");
    for (size_t i = 0; i < tools.size(); ++i)
      if (!tools[i].is_object() || !tools[i].contains("function") || !tools[i]["function"].is_object() ||
          !tools[i]["function"].contains("name"))
        bad_request("tools", fmt::format("tools[{}]: expected {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}", i));
    if (!tools.empty() && !tools_off) r.tools = tools;
  }
  if (r.tool_required) {
    if (r.tools.is_null()) bad_request("tool_choice", "tool_choice: a tool call is required but no tools were given");
    bool known = r.tool_name.empty();
    for (const auto& t : r.tools) known |= t["function"]["name"] == r.tool_name;
    if (!known) bad_request("tool_choice", fmt::format("tool_choice: the function {:?} is not among the tools", r.tool_name));
    if (r.fields.response_format != ResponseFormat::Text)
      bad_request("tool_choice", "tool_choice: a required tool call cannot be combined with response_format");
  }
  if (present(body, "chat_template_kwargs")) {
    if (!body["chat_template_kwargs"].is_object()) bad_request("chat_template_kwargs", "chat_template_kwargs: expected an object");
    r.template_kwargs = body["chat_template_kwargs"];
  }
  // reasoning_effort "none" / enable_thinking: the switch Qwen3's and GLM's templates read.
  if (present(body, "enable_thinking")) r.template_kwargs["enable_thinking"] = bool_field(body, "enable_thinking");
  return r;
}

CompletionRequest parse_completion_request(const ojson& body, int64_t n_vocab) {
  CompletionRequest r;
  r.fields = parse_fields(body, n_vocab, false);
  if (!body.contains("prompt")) bad_request("prompt", "prompt: missing");
  const ojson& p = body["prompt"];
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    r.prompt = p[0].get<std::string>();
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    for (const auto& id : p) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= n_vocab)
        bad_request("prompt", fmt::format("prompt: token ids must be integers in [0, {})", n_vocab));
      r.prompt_tokens.push_back(id.get<int32_t>());
    }
  } else {
    bad_request("prompt", "prompt: expected a string, a list of one string, or a list of token ids");
  }
  if (present(body, "echo")) r.echo = bool_field(body, "echo");
  if (r.fields.response_format != ResponseFormat::Text) bad_request("response_format", "response_format: only /v1/chat/completions takes it");
  return r;
}

}  // namespace dragon::server
