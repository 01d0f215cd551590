// Turns generated token ids into text as they arrive, never emitting half a UTF-8 character:
// bytes of an incomplete character wait for the next token; bytes that can never become valid
// UTF-8 are emitted as U+FFFD. finish() flushes what is left.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace dragon {

class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false)
      : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

  // Returns the text that became complete with this token (possibly empty).
  std::string push(int32_t id);
  // Returns the remaining text (incomplete bytes become U+FFFD) and resets the decoder.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;  // bytes not yet emitted
};

}  // namespace dragon
