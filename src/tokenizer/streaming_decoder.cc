#include "tokenizer/streaming_decoder.h"

#include "tokenizer/unicode_text.h"

namespace dragon {

namespace {

// Length of the longest prefix of `s` that does not end inside a UTF-8 character which could
// still be completed by more bytes.
size_t complete_prefix_length(const std::string& s) {
  size_t n = s.size();
  // Look back at most 3 bytes for the lead byte of an unfinished sequence.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    uint8_t c = static_cast<uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

}  // namespace

std::string StreamingDecoder::push(int32_t id) {
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  std::string bytes = tokenizer_.token_bytes(id);
  if (first_ && tokenizer_.decode({id}).size() < bytes.size()) bytes = tokenizer_.decode({id});  // leading-space strip
  first_ = false;
  pending_ += bytes;
  size_t ready = complete_prefix_length(pending_);
  std::string out = repair_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamingDecoder::finish() {
  std::string out = repair_utf8(pending_);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace dragon
