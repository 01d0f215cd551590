// UTF-8 helpers the tokenizer needs: code point encode/decode, Python-compatible repair of invalid
// input, and GPT-2's byte <-> printable-character mapping used by byte-level BPE vocabularies.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dragon {

// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, uint32_t cp);

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
uint32_t next_code_point(std::string_view s, size_t& i);

// Replaces every ill-formed sequence with U+FFFD the way Python's
// bytes.decode("utf-8", errors="replace") does (one U+FFFD per maximal subpart), which is what
// HF tokenizers see when handed bytes that are not UTF-8. Valid input is returned unchanged.
std::string repair_utf8(std::string_view s);

// GPT-2's reversible mapping of the 256 byte values onto printable Unicode characters
// (printable Latin-1 bytes map to themselves, the rest to U+0100 upwards). Byte-level BPE
// vocabularies spell their tokens in these characters.
struct ByteLevelAlphabet {
  std::array<std::string, 256> byte_to_utf8;  // byte -> its character, UTF-8 encoded
  std::array<int16_t, 512> code_point_to_byte;  // code point (< 512) -> byte, or -1

  static const ByteLevelAlphabet& get();
  // Maps a token spelled in the alphabet back to raw bytes; returns false if it contains a
  // character outside the alphabet (then `out` holds the token unchanged).
  bool decode(std::string_view token, std::string& out) const;
  std::string encode(std::string_view bytes) const;
};

}  // namespace dragon
