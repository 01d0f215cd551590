// UTF-8 helpers for the Jinja engine: Python strings index, slice and measure by code point,
// so the engine decodes where Python semantics need code points. Invalid bytes decode as
// U+FFFD one byte at a time (templates only see valid text from JSON, this just keeps us safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dragon::chat::jinja {

// Decodes the code point starting at s[i] and advances i past it.
inline uint32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) -> int {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  if (b0 < 0x80) { ++i; return b0; }
  if ((b0 & 0xE0) == 0xC0) {
    const int c1 = cont(1);
    if (c1 >= 0 && b0 >= 0xC2) { i += 2; return ((b0 & 0x1Fu) << 6) | unsigned(c1); }
  } else if ((b0 & 0xF0) == 0xE0) {
    const int c1 = cont(1), c2 = c1 >= 0 ? cont(2) : -1;
    if (c2 >= 0) {
      const uint32_t cp = ((b0 & 0x0Fu) << 12) | (unsigned(c1) << 6) | unsigned(c2);
      if (cp >= 0x800) { i += 3; return cp; }
    }
  } else if ((b0 & 0xF8) == 0xF0) {
    const int c1 = cont(1), c2 = c1 >= 0 ? cont(2) : -1, c3 = c2 >= 0 ? cont(3) : -1;
    if (c3 >= 0) {
      const uint32_t cp = ((b0 & 0x07u) << 18) | (unsigned(c1) << 12) | (unsigned(c2) << 6) | unsigned(c3);
      if (cp >= 0x10000 && cp <= 0x10FFFF) { i += 4; return cp; }
    }
  }
  ++i;
  return 0xFFFD;
}

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Byte offsets of each code point, plus a final entry at s.size().
inline std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size();) {
    offsets.push_back(i);
    next_code_point(s, i);
  }
  offsets.push_back(s.size());
  return offsets;
}

inline int64_t code_point_count(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

inline bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

}  // namespace dragon::chat::jinja
