// GET /health (open, for load balancers and scripts waiting for the server) and GET /metrics
// (Prometheus text).
#include "server/route_support.h"
#include "server/routes.h"

namespace dragon::server {

void register_status_routes(httplib::Server& http, ServerContext& ctx) {
  http.Get("/health", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/health", ErrorStyle::OpenAI, [&] {
      const EngineStats s = ctx.backend.stats();
      send_json(res, 200, {{"status", "ok"}, {"model", ctx.model.name}, {"requests_running", s.requests_running},
                           {"requests_waiting", s.requests_waiting}});
    });
  });
  http.Get("/metrics", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, req, res, "/metrics", ErrorStyle::OpenAI,
            [&] { res.set_content(ctx.metrics.render(ctx.backend.stats()), "text/plain; version=0.0.4"); });
  });
}

}  // namespace dragon::server
