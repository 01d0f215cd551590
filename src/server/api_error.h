// Errors a request can cause, with the HTTP status and OpenAI's error JSON:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": null}}
// Thrown anywhere while handling a request and turned into a response once, by the route.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace dragon::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string type = "");
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string param_, type_;
};

// 400 naming the request field at fault.
[[noreturn]] void bad_request(const std::string& param, const std::string& message);

// OpenAI's error type for a status: invalid_request_error, authentication_error, ...
const char* error_type_for_status(int status);
nlohmann::ordered_json openai_error_body(int status, const std::string& message, const std::string& param = "",
                                         const std::string& type = "");

}  // namespace dragon::server
