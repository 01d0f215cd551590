#include "server/api_error.h"

namespace dragon::server {

ApiError::ApiError(int status, std::string message, std::string param, std::string type)
    : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)), type_(std::move(type)) {}

void bad_request(const std::string& param, const std::string& message) { throw ApiError(400, message, param); }

const char* error_type_for_status(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "server_overloaded";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

nlohmann::ordered_json openai_error_body(int status, const std::string& message, const std::string& param,
                                         const std::string& type) {
  using ojson = nlohmann::ordered_json;
  return {{"error",
           {{"message", message},
            {"type", type.empty() ? error_type_for_status(status) : type},
            {"param", param.empty() ? ojson(nullptr) : ojson(param)},
            {"code", nullptr}}}};
}

}  // namespace dragon::server
