#include "server/token_table.h"

#include <algorithm>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace dragon {

namespace {

// Bytes of the well-formed UTF-8 character at the start of `s` (RFC 3629), or 0.
size_t utf8_sequence_length(std::string_view s) {
  const auto at = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0; };
  const unsigned char c = at(0);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3;
  else if (c >= 0xF0 && c <= 0xF4) len = 4;
  else return 0;
  if (c == 0xE0) lo = 0xA0;
  if (c == 0xED) hi = 0x9F;
  if (c == 0xF0) lo = 0x90;
  if (c == 0xF4) hi = 0x8F;
  if (at(1) < lo || at(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i)
    if (at(i) < 0x80 || at(i) > 0xBF) return 0;
  return len;
}

}  // namespace

std::shared_ptr<const TokenTable> TokenTable::build(const Tokenizer& tokenizer) {
  auto table = std::make_shared<TokenTable>();
  const int32_t n = tokenizer.n_vocab();
  table->bytes.resize(size_t(n));
  table->usable.assign(size_t(n), 1);
  for (int32_t id = 0; id < n; ++id) table->bytes[size_t(id)] = tokenizer.token_bytes(id);
  for (const AddedToken& t : tokenizer.added_tokens())
    if (t.id >= 0 && t.id < n) table->usable[size_t(t.id)] = 0;
  for (int32_t id = 0; id < n; ++id)
    if (table->bytes[size_t(id)].empty()) table->usable[size_t(id)] = 0;
  table->find_plain();
  table->index_spellings();
  return table;
}

std::shared_ptr<TokenTable> TokenTable::from_bytes(std::vector<std::string> bytes) {
  auto table = std::make_shared<TokenTable>();
  table->bytes = std::move(bytes);
  table->usable.assign(table->bytes.size(), 1);
  for (size_t id = 0; id < table->bytes.size(); ++id)
    if (table->bytes[id].empty()) table->usable[id] = 0;
  table->find_plain();
  table->index_spellings();
  return table;
}

void TokenTable::index_spellings() {
  by_spelling.clear();
  longest_spelling = 0;
  for (size_t id = 0; id < bytes.size(); ++id) {
    if (bytes[id].empty()) continue;
    by_spelling.emplace(bytes[id], int32_t(id));
    longest_spelling = std::max(longest_spelling, bytes[id].size());
  }
}

void TokenTable::find_plain() {
  plain.assign(bytes.size(), 0);
  for (size_t id = 0; id < bytes.size(); ++id) {
    if (!usable[id]) continue;
    const std::string_view b = bytes[id];
    bool ok = true;
    size_t i = 0;
    while (ok && i < b.size()) {
      const unsigned char c = static_cast<unsigned char>(b[i]);
      if (c < 0x80) {
        ok = c >= 0x20 && c != '"' && c != '\\';
        ++i;
        continue;
      }
      const size_t len = utf8_sequence_length(b.substr(i));
      ok = len > 0;
      i += len;
    }
    plain[id] = ok;
  }
}

}  // namespace dragon
