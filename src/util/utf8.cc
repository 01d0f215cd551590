#include "util/utf8.h"

#include <fmt/format.h>

#include <cstdint>

namespace dragon {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
static size_t valid_sequence_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                              // surrogate
  if (cp > 0x10FFFF) return 0;
  return len;
}

size_t find_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = valid_sequence_length(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string escape_for_message(std::string_view s, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max_len;) {
    size_t len = valid_sequence_length(s, i);
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7F))) {
      out += fmt::format("\\x{:02x}", c);
      i += 1;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  if (out.size() >= max_len) out += "...";
  return out;
}

}  // namespace dragon
