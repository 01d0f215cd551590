// The OpenAI request bodies (/v1/chat/completions, /v1/completions) checked field by field and
// turned into what the engine takes. Every mistake is a 400 naming the field
// ("temperature: must be between 0 and 2").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/json_schema.h"

namespace dragon::server {

enum class ResponseFormat { Text, JsonObject, JsonSchema };

// The fields chat and completions share.
struct GenerationFields {
  std::string model;
  SamplingParams sampling;
  std::optional<uint64_t> seed;           // absent: a random seed per request
  std::optional<int64_t> max_tokens;      // absent: up to the end of the context
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;             // stream_options.include_usage
  int top_logprobs = -1;                  // -1: no logprobs
  bool ignore_eos = false;
  ResponseFormat response_format = ResponseFormat::Text;
  std::shared_ptr<const JsonSchema> json_schema;  // what the answer must match (json_object: any object)
};

struct ChatRequest {
  GenerationFields fields;
  nlohmann::ordered_json messages;         // as the chat template expects them
  nlohmann::ordered_json tools;            // null when none (or tool_choice "none")
  bool tool_required = false;              // tool_choice "required" or a named function
  std::string tool_name;                   // tool_choice {"type": "function", "function": {"name": ...}}
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
};

struct CompletionRequest {
  GenerationFields fields;
  std::string prompt;                      // text, or
  std::vector<int32_t> prompt_tokens;      // ids when the prompt was given as ids
  bool echo = false;
};

// `n_vocab` bounds logit_bias ids.
ChatRequest parse_chat_request(const nlohmann::ordered_json& body, int64_t n_vocab);
CompletionRequest parse_completion_request(const nlohmann::ordered_json& body, int64_t n_vocab);
// The body as JSON, keys in the order sent (tools reach the template as the client wrote them).
nlohmann::ordered_json parse_json_body(const std::string& body);
// messages[i].content: a string, null, or a list of parts whose text parts are joined.
std::string message_text(const nlohmann::ordered_json& content, const std::string& where);

}  // namespace dragon::server
