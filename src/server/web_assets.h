// The web chat's static files (src/server/web/*), compiled into the binary at build time by
// cmake/embed_web_files.cmake, and the route that serves them: GET / (index.html) and
// GET /web/<file>. The page itself needs no API key; its API calls send the one the user types.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace dragon::server {

struct WebAsset {
  const char* name;  // file name inside src/server/web, e.g. "chat.js"
  const unsigned char* data;
  size_t size;
};

const std::vector<WebAsset>& web_assets();  // generated
const WebAsset* find_web_asset(std::string_view name);
std::string_view web_content_type(std::string_view name);  // by extension

void register_web_routes(httplib::Server& http);

}  // namespace dragon::server
