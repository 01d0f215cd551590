// GET / and GET /web/<file>: the web chat (web_assets.h).
#include <string>

#include "server/web_assets.h"

namespace dragon::server {

const WebAsset* find_web_asset(std::string_view name) {
  for (const WebAsset& a : web_assets())
    if (name == a.name) return &a;
  return nullptr;
}

std::string_view web_content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".png")) return "image/png";
  return "application/octet-stream";
}

namespace {

void send_asset(const WebAsset& a, httplib::Response& res) {
  res.set_content(reinterpret_cast<const char*>(a.data), a.size, std::string(web_content_type(a.name)));
  // Everything the page loads comes from this server: no CDN, no inline script.
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

void register_web_routes(httplib::Server& http) {
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    if (const WebAsset* a = find_web_asset("index.html")) send_asset(*a, res);
    else res.status = 404;
  });
  http.Get(R"(/web/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a = find_web_asset(req.matches[1].str());
    if (a) send_asset(*a, res);
    else res.status = 404;  // the server's error handler writes the body
  });
}

}  // namespace dragon::server
