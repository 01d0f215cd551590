// response_format {"type": "json_schema"} / {"type": "json_object"}, and forced tool calls: the
// token constraint that keeps the model's text a valid prefix of a sequence of segments
//     literal text | a JSON document matching a schema | a bare string matching a string schema
// and closes it within max_tokens. response_format is one JSON segment. A forced tool call is
// the family's own wrapper around its arguments, e.g. Hermes "<tool_call>\n" + {"name",
// "arguments"} + "\n</tool_call>", Kimi's marker tokens around the arguments' JSON, or GLM's
// <arg_key>/<arg_value> pairs with one segment per value (see tool_choice.h). In literal parts
// added tokens may be used too (Qwen writes <tool_call> as one token, DeepSeek and Kimi write
// their markers as special tokens); inside a document only byte-level tokens.
//
// A JSON segment ends when its value closes (bracket or quote) or, for a bare number or
// literal, at the first byte that cannot continue it but can start the next segment. A bare
// string (GLM's and MiniMax's string arguments, written without quotes or escapes) is checked
// by feeding the matcher the JSON string it stands for; it ends at '<', where the next literal
// (the closing tag) starts, so such a value cannot contain '<'.
//
// Before each token it tries every token's bytes on a copy of the state (a token whose first
// byte already fails is skipped without a copy; inside a JSON string, plain content tokens
// are valid without a try) and keeps those after which the shortest completion still fits in
// the tokens left: inside a document one byte per token, which byte-level BPE always has; a
// literal in the fewest tokens that spell it (Kimi's ~100-byte call header is 8 tokens), so a
// small max_tokens is not mistaken for one the wrapper cannot fit in. The answer for a state
// is cached by the state's key: a long string value is one state for as long as it runs. If no
// token fits the budget (max_tokens below the shortest completion), the valid tokens are kept
// and the answer ends by length.
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

struct ConstraintSegment {
  enum class Kind { Literal, Json, BareString };
  Kind kind = Kind::Literal;
  std::string text;                           // Literal
  std::shared_ptr<const JsonSchema> schema;   // Json, BareString (a string schema)
  // > 0: this literal opens an optional group of that many segments (itself included), which
  // the text may leave out. What follows the group must start with a literal, and the group's
  // literal must differ from it (and from any later group's literal it may be skipped to) by
  // some byte, as GLM's "<arg_key>city</arg_key>" and "</tool_call>" do: the choice is made
  // by the bytes written, with every candidate in the running until one is left.
  size_t optional_group = 0;

  static ConstraintSegment literal(std::string text) { return {Kind::Literal, std::move(text), nullptr}; }
  static ConstraintSegment optional_literal(std::string text, size_t group) {
    return {Kind::Literal, std::move(text), nullptr, group};
  }
  static ConstraintSegment json(std::shared_ptr<const JsonSchema> schema) { return {Kind::Json, "", std::move(schema)}; }
  static ConstraintSegment bare_string(std::shared_ptr<const JsonSchema> schema) {
    return {Kind::BareString, "", std::move(schema)};
  }
};

class JsonSchemaConstraint : public TokenConstraint {
 public:
  JsonSchemaConstraint(std::shared_ptr<const JsonSchema> schema, std::shared_ptr<const TokenTable> table,
                       std::vector<int32_t> stop_tokens, int64_t max_tokens, std::string prefix = "", std::string suffix = "");
  JsonSchemaConstraint(std::vector<ConstraintSegment> segments, std::shared_ptr<const TokenTable> table,
                       std::vector<int32_t> stop_tokens, int64_t max_tokens);

  void mask(float* logits, int64_t n_vocab) override;
  void accept(int32_t token) override;
  bool is_complete() const override;
  // A token was accepted that the text cannot take (one mask() would have refused): the
  // constraint is out of the running (AnyOfConstraint drops it).
  bool failed() const { return failed_; }
  // The last mask() kept a token after which the shortest completion fits the tokens left.
  bool fit_budget() const { return fit_budget_; }

  const SchemaMatcher& matcher() const { return state_.matcher; }
  size_t cache_hits() const { return hits_; }
  size_t cache_misses() const { return misses_; }

 private:
  struct State {
    size_t seg = 0;      // the segment being written (segments_.size(): all written)
    size_t lit_at = 0;   // Literal: bytes of it written
    SchemaMatcher matcher;  // Json / BareString: the value so far
    // At an optional group: the other literals still in the running beside `seg` (the same
    // lit_at bytes of each written); empty elsewhere.
    std::vector<size_t> also;
  };
  // The tokens valid in one state, each with the shortest completion after it.
  struct Allowed {
    std::vector<int32_t> tokens;
    std::vector<int32_t> completion;  // capped at INT32_MAX (only compared with a token budget)
  };
  bool advance(State& s, std::string_view bytes) const;
  bool advance_byte(State& s, unsigned char c) const;
  bool advance_choice(State& s, unsigned char c) const;
  void enter(State& s, size_t seg) const;  // start segment `seg` (skipping finished ones)
  int64_t completion(const State& s) const;
  bool can_end(const State& s) const;
  bool in_literal(const State& s) const {
    return s.seg < segments_.size() && segments_[s.seg].kind == ConstraintSegment::Kind::Literal;
  }
  bool stop_token(int32_t id) const;
  bool token_fits_literal(const State& s, int32_t id) const;
  // cost[i]: the fewest tokens that write text[i..] (each a token spelled by a piece of it).
  std::vector<int32_t> literal_token_costs(const std::string& text) const;
  const Allowed& allowed();

  // Declared before segments_: the constructor fills it while normalizing the segments.
  std::vector<size_t> skip_to_;  // per segment: where leaving out the optional group it opens goes (0: not one)
  std::vector<ConstraintSegment> segments_;
  std::vector<std::vector<int32_t>> literal_costs_;  // per segment (literals only): literal_token_costs
  std::vector<int64_t> rest_;  // rest_[i]: the shortest completion of segments i.. in tokens (rest_.back() = 0)
  std::shared_ptr<const TokenTable> table_;
  std::vector<int32_t> stop_tokens_;
  int64_t tokens_left_;
  State state_, probe_;
  std::unordered_map<std::string, std::shared_ptr<const Allowed>> cache_;
  size_t cache_entries_total_ = 0, hits_ = 0, misses_ = 0;
  bool failed_ = false, fit_budget_ = false;
  std::vector<uint8_t> keep_;
};

// One of several constraints: a token is allowed when any constraint still in the running
// allows it, and each accepted token drops those that cannot take it. A forced call of one of
// several tools whose name sits outside the arguments' JSON (DeepSeek, Kimi, GLM, MiniMax) is
// one alternative per tool.
class AnyOfConstraint : public TokenConstraint {
 public:
  explicit AnyOfConstraint(std::vector<std::shared_ptr<JsonSchemaConstraint>> alternatives);

  void mask(float* logits, int64_t n_vocab) override;
  void accept(int32_t token) override;
  bool is_complete() const override;
  size_t alive() const { return alternatives_.size(); }

 private:
  std::vector<std::shared_ptr<JsonSchemaConstraint>> alternatives_;
  std::vector<float> scratch_, merged_, merged_fitting_;
};

}  // namespace dragon
