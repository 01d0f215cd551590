// response_format {"type": "json_schema"} / {"type": "json_object"}, and forced tool calls: the
// token constraint that keeps the model's text a valid prefix of
//     prefix + (a JSON document matching the schema) + suffix
// and closes it within max_tokens. prefix / suffix are literal text around the document, empty
// for response_format; a forced Hermes tool call is "<tool_call>\n" + {"name", "arguments"} +
// "\n</tool_call>". In the literal parts added tokens may be used too (Qwen writes <tool_call>
// as one token); inside the document only byte-level tokens.
//
// Before each token it tries every token's bytes on a copy of the state (a token whose first
// byte already fails is skipped without a copy; inside a string, plain content tokens are
// valid without a try) and keeps those after which the shortest completion still fits in the
// tokens left — one byte per token, which byte-level BPE always has. The answer for a state is
// cached by the state's key: a long string value is one state for as long as it runs. If no
// token fits the budget (max_tokens below the shortest document), the valid tokens are kept and
// the answer ends by length.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/engine.h"
#include "server/json_schema.h"
#include "server/json_schema_matcher.h"
#include "server/token_table.h"

namespace dragon {

class JsonSchemaConstraint : public TokenConstraint {
 public:
  JsonSchemaConstraint(std::shared_ptr<const JsonSchema> schema, std::shared_ptr<const TokenTable> table,
                       std::vector<int32_t> stop_tokens, int64_t max_tokens, std::string prefix = "", std::string suffix = "");

  void mask(float* logits, int64_t n_vocab) override;
  void accept(int32_t token) override;
  bool is_complete() const override;

  const SchemaMatcher& matcher() const { return state_.matcher; }
  size_t cache_hits() const { return hits_; }
  size_t cache_misses() const { return misses_; }

 private:
  struct State {
    size_t prefix_at = 0;  // bytes of the prefix written
    SchemaMatcher matcher;
    size_t suffix_at = 0;  // bytes of the suffix written (once the document closed)
  };
  // The tokens valid in one state, each with the shortest completion after it.
  struct Allowed {
    std::vector<int32_t> tokens;
    std::vector<int32_t> completion;  // capped at INT32_MAX (only compared with a token budget)
  };
  bool advance(State& s, std::string_view bytes) const;
  int64_t completion(const State& s) const;
  bool can_end(const State& s) const;
  bool in_document(const State& s) const { return s.prefix_at == prefix_.size() && !s.matcher.closed(); }
  bool stop_token(int32_t id) const;
  const Allowed& allowed();

  std::shared_ptr<const JsonSchema> schema_;
  std::shared_ptr<const TokenTable> table_;
  std::vector<int32_t> stop_tokens_;
  int64_t tokens_left_;
  std::string prefix_, suffix_;
  State state_, probe_;
  std::unordered_map<std::string, std::shared_ptr<const Allowed>> cache_;
  size_t cache_entries_total_ = 0, hits_ = 0, misses_ = 0;
  std::vector<uint8_t> keep_;
};

}  // namespace dragon
