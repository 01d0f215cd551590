#include "server/sse.h"

namespace dragon::server {

std::string json_text(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string json_text(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string sse_event(const nlohmann::ordered_json& data) { return "data: " + json_text(data) + "\n\n"; }
std::string ndjson_line(const nlohmann::ordered_json& data) { return json_text(data) + "\n"; }

}  // namespace dragon::server
