// Server-sent events (OpenAI streaming) and newline-delimited JSON (Ollama streaming). JSON is
// written with invalid UTF-8 replaced by U+FFFD: a token's bytes (logprobs) may be half a
// character.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dragon::server {

std::string json_text(const nlohmann::ordered_json& j);
std::string json_text(const nlohmann::json& j);
std::string sse_event(const nlohmann::ordered_json& data);  // "data: {...}\n\n"
inline constexpr const char* kSseDone = "data: [DONE]\n\n";
std::string ndjson_line(const nlohmann::ordered_json& data);  // "{...}\n"

}  // namespace dragon::server
