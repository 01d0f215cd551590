// Everything a route needs, owned by the HttpServer: the backend, the served model, the
// options and the metrics. No globals: routes receive this by reference.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "server/backend.h"
#include "server/metrics.h"
#include "server/served_model.h"

namespace dragon::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0 = any free port
  std::string api_key;                 // empty = no authentication
  size_t max_body_bytes = 8u << 20;    // larger bodies get 413
  std::chrono::seconds request_timeout{600};  // a request running longer is cancelled
  int http_threads = 16;               // connections served at once (streams hold one each)
  bool log_requests = true;            // one line per request to stderr (never the prompt text)
  double usd_per_hour = 0;             // the machine's cost, for /metrics (0 = not configured)
};

struct ServerContext {
  Backend& backend;
  const ServedModel& model;
  ServerOptions options;
  Metrics metrics;
};

}  // namespace dragon::server
