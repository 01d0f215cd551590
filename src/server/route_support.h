// What every route does the same way: errors turned into the API's error body (OpenAI's JSON or
// Ollama's {"error": "..."}) once, at the edge; the model name checked; a prompt turned into
// engine requests with the context checked; a session pumped to completion, or streamed.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/generation_session.h"
#include "server/openai_request.h"
#include "server/server_context.h"

namespace dragon::server {

enum class ErrorStyle { OpenAI, Ollama };

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body);
void send_error(httplib::Response& res, ErrorStyle style, int status, const std::string& message,
                const std::string& param = "");

// Runs `body`, mapping what it throws to a status: ApiError as given, dragon::Error 400,
// EngineQueueFull 503, anything else 500. Counts the request in the metrics.
void guarded(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, const char* route,
             ErrorStyle style, const std::function<void()>& body);

// 404 unless `name` is empty or names the served model (its name, path or file name).
void check_model_name(const ServerContext& ctx, const std::string& name, ErrorStyle style);

// One engine request per choice (seeds seed, seed+1, ...). 400 when the prompt leaves no room
// in the context; max_tokens is capped at what the context leaves.
std::vector<GenerationRequest> make_requests(const ServerContext& ctx, const std::vector<int32_t>& prompt,
                                             const GenerationFields& fields);

// Pops every event until each choice finished; cancels at the request timeout.
void collect(const ServerContext& ctx, GenerationSession& session, const std::function<void(const SessionEvent&)>& on_event);

// Streams a session: `on_event` turns each event into response bytes, `on_end` writes the end
// (usage, [DONE]). A client that goes away cancels the requests.
void stream(const ServerContext& ctx, httplib::Response& res, std::shared_ptr<GenerationSession> session,
            const char* content_type, std::function<std::string(const SessionEvent&)> on_event,
            std::function<std::string()> on_end, bool heartbeat_comments);

std::string random_id(const char* prefix);
int64_t unix_time();

}  // namespace dragon::server
