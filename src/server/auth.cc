#include "server/auth.h"

#include <cctype>

namespace dragon::server {

bool route_needs_key(std::string_view path) {
  return path.substr(0, 4) == "/v1/" || path.substr(0, 5) == "/api/" || path == "/metrics";
}

bool bearer_matches(std::string_view header, std::string_view key) {
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != std::tolower(static_cast<unsigned char>(kScheme[i]))) return false;
  const std::string_view given = header.substr(kScheme.size());
  // Constant time in the key's length: no early exit on the first differing byte.
  unsigned diff = given.size() != key.size();
  for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(key[i]) ^ static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

}  // namespace dragon::server
