#include "tokenizer/unicode_text.h"

namespace dragon {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

uint32_t next_code_point(std::string_view s, size_t& i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) { i += 1; return c; }
  if (c < 0xE0) { uint32_t cp = ((c & 0x1F) << 6) | (b(i + 1) & 0x3F); i += 2; return cp; }
  if (c < 0xF0) {
    uint32_t cp = ((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
    i += 3;
    return cp;
  }
  uint32_t cp = ((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
  i += 4;
  return cp;
}

std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) { out += static_cast<char>(c); ++i; continue; }
    // Expected length and the allowed range of the second byte (Unicode Table 3-7), which is
    // what defines a "maximal subpart" for the replacement count.
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    if (len == 0) { out += kReplacement; ++i; continue; }
    size_t k = 1;
    for (; k < len && i + k < s.size(); ++k) {
      uint8_t d = static_cast<uint8_t>(s[i + k]);
      uint8_t l = (k == 1) ? lo : 0x80, h = (k == 1) ? hi : 0xBF;
      if (d < l || d > h) break;
    }
    if (k == len) out.append(s.substr(i, len));
    else out += kReplacement;
    i += k;
  }
  return out;
}

const ByteLevelAlphabet& ByteLevelAlphabet::get() {
  static const ByteLevelAlphabet alphabet = [] {
    ByteLevelAlphabet a;
    a.code_point_to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      append_utf8(a.byte_to_utf8[b], cp);
      a.code_point_to_byte[cp] = static_cast<int16_t>(b);
    }
    return a;
  }();
  return alphabet;
}

bool ByteLevelAlphabet::decode(std::string_view token, std::string& out) const {
  std::string bytes;
  bytes.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    uint32_t cp = next_code_point(token, i);
    if (cp >= code_point_to_byte.size() || code_point_to_byte[cp] < 0) {
      out.assign(token);
      return false;
    }
    bytes += static_cast<char>(code_point_to_byte[cp]);
  }
  out = std::move(bytes);
  return true;
}

std::string ByteLevelAlphabet::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += byte_to_utf8[b];
  return out;
}

}  // namespace dragon
