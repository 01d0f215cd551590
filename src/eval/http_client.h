// A JSON POST over HTTP(S) with libcurl, for talking to OpenAI-compatible endpoints.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dragon::eval {

struct HttpResult {
  long status = 0;
  std::string body;
};

// POSTs `body` as application/json, with "Authorization: Bearer <api_key>" when a key is given.
// Throws dragon::Error when the connection fails (naming the URL and curl's reason).
HttpResult http_post_json(const std::string& url, const nlohmann::json& body, const std::string& api_key,
                          long timeout_seconds);

}  // namespace dragon::eval
