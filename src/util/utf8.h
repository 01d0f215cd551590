// UTF-8 validation for names and keys read from untrusted files.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dragon {

// Byte offset of the first invalid UTF-8 sequence in `s` (overlongs, surrogates and code
// points past U+10FFFF are invalid), or std::string_view::npos if `s` is valid.
size_t find_invalid_utf8(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return find_invalid_utf8(s) == std::string_view::npos; }

// A printable rendering of possibly-invalid bytes for error messages: invalid bytes as \xNN,
// truncated to `max_len` characters.
std::string escape_for_message(std::string_view s, size_t max_len = 80);

}  // namespace dragon
