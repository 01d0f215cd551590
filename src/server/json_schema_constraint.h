// response_format {"type": "json_schema"}: the token constraint that keeps the model's text a
// valid prefix of a JSON document matching the schema, and closes it within max_tokens.
//
// Before each token it tries every token's bytes on a copy of the matcher (a token whose first
// byte already fails is skipped without a copy) and keeps those after which the shortest
// completion still fits in the tokens left — one byte per token, which byte-level BPE always
// has. The answer for a matcher state is cached by the state's key: a long string value, the
// slowest part, is one state for as long as it runs. If no token fits the budget (max_tokens
// smaller than the shortest document), the valid tokens are kept and the answer ends by length.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/engine.h"
#include "server/token_table.h"
#include "server/json_schema.h"
#include "server/json_schema_matcher.h"

namespace dragon {

class JsonSchemaConstraint : public TokenConstraint {
 public:
  JsonSchemaConstraint(std::shared_ptr<const JsonSchema> schema, std::shared_ptr<const TokenTable> table,
                       std::vector<int32_t> stop_tokens, int64_t max_tokens);

  void mask(float* logits, int64_t n_vocab) override;
  void accept(int32_t token) override;
  bool is_complete() const override { return matcher_.closed(); }

  const SchemaMatcher& matcher() const { return matcher_; }
  size_t cache_hits() const { return hits_; }
  size_t cache_misses() const { return misses_; }

 private:
  // The tokens valid in one matcher state, each with the shortest completion after it.
  struct Allowed {
    std::vector<int32_t> tokens;
    std::vector<int64_t> completion;
  };
  const Allowed& allowed();

  std::shared_ptr<const JsonSchema> schema_;
  std::shared_ptr<const TokenTable> table_;
  std::vector<int32_t> stop_tokens_;
  int64_t tokens_left_;
  SchemaMatcher matcher_, probe_;
  std::unordered_map<std::string, std::shared_ptr<const Allowed>> cache_;
  size_t cache_entries_total_ = 0, hits_ = 0, misses_ = 0;
  std::vector<uint8_t> keep_;
};

}  // namespace dragon
