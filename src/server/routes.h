// The route tables: each registers its handlers on the httplib server.
#pragma once

#include <httplib.h>

#include "server/server_context.h"

namespace dragon::server {

void register_openai_routes(httplib::Server& http, ServerContext& ctx);  // /v1/*
void register_ollama_routes(httplib::Server& http, ServerContext& ctx);  // /api/*
void register_status_routes(httplib::Server& http, ServerContext& ctx);  // /health, /metrics

}  // namespace dragon::server
