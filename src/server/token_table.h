// The bytes each token adds to the text, built once per served model and shared by every
// constrained request (response_format json_object / json_schema).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace dragon {

class Tokenizer;

struct TokenTable {
  std::vector<std::string> bytes;
  std::vector<uint8_t> usable;  // 0 for added / special tokens and empty ones (never inside JSON)
  // 1 when the token is plain string content: no quote, backslash or control byte, whole UTF-8
  // characters. Inside a JSON string such a token changes nothing but the length, so a
  // constraint need not try it byte by byte. May be empty (then every token is tried).
  std::vector<uint8_t> plain;
  // A token spelled exactly by these bytes (the lowest id when several are), and the longest
  // spelling: how a constraint counts the tokens a literal wrapper needs, not its bytes.
  std::unordered_map<std::string, int32_t> by_spelling;
  size_t longest_spelling = 0;
  static std::shared_ptr<const TokenTable> build(const Tokenizer& tokenizer);
  // From the bytes alone (tests): every token usable.
  static std::shared_ptr<TokenTable> from_bytes(std::vector<std::string> bytes);
  void find_plain();
  void index_spellings();
};

}  // namespace dragon
