// --api-key: every API route (/v1/*, /api/*, /metrics) requires "Authorization: Bearer <key>"
// (OpenAI clients send it; Ollama clients can be told to). /health stays open for probes.
#pragma once

#include <string>
#include <string_view>

namespace dragon::server {

bool route_needs_key(std::string_view path);
// True when `authorization_header` carries the key. Compared in constant time.
bool bearer_matches(std::string_view authorization_header, std::string_view api_key);

}  // namespace dragon::server
