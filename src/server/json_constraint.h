// response_format {"type": "json_object"}: constrained decoding that only lets the model write
// text that is still the beginning of a valid JSON object, and that finishes the object before
// max_tokens runs out.
//
// JsonPrefix is a character-level JSON state machine (RFC 8259; strings checked for control
// characters, escapes and UTF-8 sequence shape). JsonObjectConstraint asks it, for every token
// whose logit is finite, whether the token's bytes keep the text a valid prefix — and whether
// what would remain to close the object (the shortest completion: `"`, `:0`, `}` ...) still fits
// in the tokens left. Every byte is a token in byte-level BPE vocabularies, so that completion is
// always reachable: the output parses whenever the request ends by the constraint or by length.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/engine.h"

namespace dragon {

class Tokenizer;

class JsonPrefix {
 public:
  explicit JsonPrefix(bool object_only = true) : object_only_(object_only) {}

  // False if the text would no longer be a JSON prefix; the state is then meaningless, so callers
  // that probe candidates push onto a copy.
  bool push(unsigned char c);
  bool push(std::string_view bytes);
  bool complete() const { return state_ == State::Done || (state_ == State::Number && stack_.empty() && number_can_end()); }
  // The shortest text that makes the prefix a complete JSON document.
  std::string completion() const;
  size_t completion_size() const;

 private:
  enum class State : uint8_t {
    Value,          // a value must come (whitespace allowed)
    ValueOrClose,   // just after '[': a value or ']'
    KeyOrClose,     // just after '{': '"' or '}'
    Key,            // after ',' in an object: '"'
    Colon,
    CommaOrClose,   // after a value inside a container
    String,         // inside a string (key_ says which kind)
    Escape,         // after a backslash
    Unicode,        // in \uXXXX, hex_left_ digits to go
    Number,         // number_ says where
    Literal,        // in true / false / null, literal_ is what is left to write
    Done,           // the top-level value is complete: only whitespace
  };
  enum class Num : uint8_t { Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpInt };

  bool number_can_end() const { return number_ == Num::Zero || number_ == Num::Int || number_ == Num::Frac || number_ == Num::ExpInt; }
  bool begin_value(unsigned char c);
  void end_value();
  bool push_structural(unsigned char c);

  bool object_only_;
  State state_ = State::Value;
  std::string stack_;  // open containers, '{' or '['
  bool key_ = false;
  uint8_t hex_left_ = 0, utf8_left_ = 0, exp_digits_ = 0;
  Num number_ = Num::Int;
  std::string_view literal_;
};

// The bytes each token would add to the text, shared by every constrained request.
struct TokenTable {
  std::vector<std::string> bytes;
  std::vector<uint8_t> usable;  // 0 for added / special tokens (never inside JSON)
  static std::shared_ptr<const TokenTable> build(const Tokenizer& tokenizer);
};

class JsonObjectConstraint : public TokenConstraint {
 public:
  // `stop_tokens` (EOS, end of turn) are allowed once the object is complete; `max_tokens` is
  // the request's budget, which the completion must fit in.
  JsonObjectConstraint(std::shared_ptr<const TokenTable> table, std::vector<int32_t> stop_tokens, int64_t max_tokens);

  void mask(float* logits, int64_t n_vocab) override;
  void accept(int32_t token) override;
  bool is_complete() const override { return prefix_.complete(); }

  const JsonPrefix& prefix() const { return prefix_; }

 private:
  std::shared_ptr<const TokenTable> table_;
  std::vector<int32_t> stop_tokens_;
  int64_t tokens_left_;
  JsonPrefix prefix_;
};

}  // namespace dragon
