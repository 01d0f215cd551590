#include "server/json_schema_constraint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "util/error.h"

namespace dragon {

namespace {

// Cached (token, completion) pairs over all states before the cache starts afresh (~8 MB).
constexpr size_t kMaxCachedEntries = size_t{1} << 20;

int32_t capped(int64_t n) { return int32_t(std::min<int64_t>(n, std::numeric_limits<int32_t>::max())); }

// Drops empty literals and joins adjacent ones, so a literal segment is never empty and a byte
// that ends one literal never has to start another — except across an optional group's
// boundary, which must stay a segment boundary. `skip_to` gets, for each segment opening an
// optional group, the index (in the result) of the segment after the group.
std::vector<ConstraintSegment> normalized(std::vector<ConstraintSegment> in, std::vector<size_t>& skip_to) {
  std::vector<ConstraintSegment> out;
  std::vector<size_t> out_index(in.size() + 1);  // where input segment i starts in `out`
  std::vector<uint8_t> ends_group(in.size() + 1, 0);
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].optional_group > 0) {
      if (in[i].kind != ConstraintSegment::Kind::Literal || in[i].text.empty() || i + in[i].optional_group >= in.size())
        throw Error("constraint: an optional group must open with a literal and be followed by a segment");
      ends_group[i + in[i].optional_group - 1] = 1;
    }
  for (size_t i = 0; i < in.size(); ++i) {
    ConstraintSegment& s = in[i];
    out_index[i] = out.size();
    if (s.kind == ConstraintSegment::Kind::Literal) {
      if (s.text.empty()) continue;
      const bool boundary = s.optional_group > 0 || (i > 0 && ends_group[i - 1]);
      if (!boundary && !out.empty() && out.back().kind == ConstraintSegment::Kind::Literal) {
        out_index[i] = out.size() - 1;
        out.back().text += s.text;
        continue;
      }
    }
    out.push_back(std::move(s));
  }
  out_index[in.size()] = out.size();
  skip_to.assign(out.size(), 0);
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].optional_group > 0) {
      const size_t after = out_index[i + in[i].optional_group];
      if (after >= out.size() || out[after].kind != ConstraintSegment::Kind::Literal)
        throw Error("constraint: an optional group must be followed by a literal");
      skip_to[out_index[i]] = after;
    }
  return out;
}

std::vector<ConstraintSegment> around(std::shared_ptr<const JsonSchema> schema, std::string prefix, std::string suffix) {
  return {ConstraintSegment::literal(std::move(prefix)), ConstraintSegment::json(std::move(schema)),
          ConstraintSegment::literal(std::move(suffix))};
}

// A matcher for states outside any document (its schema is never consulted there).
std::shared_ptr<const JsonSchema> any_schema() {
  static const std::shared_ptr<const JsonSchema> any = JsonSchema::compile(nlohmann::json::object());
  return any;
}

// The JSON text a bare string's byte stands for, pushed into the matcher.
bool push_escaped(SchemaMatcher& m, unsigned char c) {
  switch (c) {
    case '"': return m.push("\\\"");
    case '\\': return m.push("\\\\");
    case '\n': return m.push("\\n");
    case '\r': return m.push("\\r");
    case '\t': return m.push("\\t");
    default: break;
  }
  if (c < 0x20) {
    char esc[8];
    std::snprintf(esc, sizeof esc, "\\u%04x", c);
    return m.push(std::string_view(esc, 6));
  }
  return m.push(c);
}

}  // namespace

JsonSchemaConstraint::JsonSchemaConstraint(std::shared_ptr<const JsonSchema> schema, std::shared_ptr<const TokenTable> table,
                                           std::vector<int32_t> stop_tokens, int64_t max_tokens, std::string prefix,
                                           std::string suffix)
    : JsonSchemaConstraint(around(std::move(schema), std::move(prefix), std::move(suffix)), std::move(table),
                           std::move(stop_tokens), max_tokens) {}

JsonSchemaConstraint::JsonSchemaConstraint(std::vector<ConstraintSegment> segments, std::shared_ptr<const TokenTable> table,
                                           std::vector<int32_t> stop_tokens, int64_t max_tokens)
    : segments_(normalized(std::move(segments), skip_to_)), table_(std::move(table)), stop_tokens_(std::move(stop_tokens)),
      tokens_left_(max_tokens), state_{0, 0, SchemaMatcher(any_schema()), {}}, probe_{0, 0, SchemaMatcher(any_schema()), {}} {
  literal_costs_.resize(segments_.size());
  for (size_t i = 0; i < segments_.size(); ++i)
    if (segments_[i].kind == ConstraintSegment::Kind::Literal) literal_costs_[i] = literal_token_costs(segments_[i].text);
  rest_.assign(segments_.size() + 1, 0);
  for (size_t i = segments_.size(); i-- > 0;) {
    State s{i, 0, SchemaMatcher(any_schema()), {}};
    enter(s, i);
    const int64_t own = segments_[i].kind == ConstraintSegment::Kind::Literal ? int64_t(literal_costs_[i][0])
                                                                              : s.matcher.min_completion();
    rest_[i] = std::min<int64_t>(own + rest_[i + 1], std::numeric_limits<int32_t>::max());
    if (skip_to_[i] > 0) rest_[i] = std::min(rest_[i], rest_[skip_to_[i]]);
  }
  enter(state_, 0);
}

void JsonSchemaConstraint::enter(State& s, size_t seg) const {
  s.seg = seg;
  s.lit_at = 0;
  s.also.clear();
  if (seg >= segments_.size()) return;
  const ConstraintSegment& g = segments_[seg];
  if (g.kind == ConstraintSegment::Kind::Literal) {
    // An optional group: the literal after it (and the groups that may be skipped to from
    // there) are in the running too.
    for (size_t k = skip_to_[seg]; k > 0; k = skip_to_[k]) s.also.push_back(k);
    return;
  }
  s.matcher = SchemaMatcher(g.schema);
  // A bare string is the content of a JSON string: its opening quote is implied.
  if (g.kind == ConstraintSegment::Kind::BareString) s.matcher.push('"');
}

bool JsonSchemaConstraint::advance_byte(State& s, unsigned char c) const {
  if (s.seg >= segments_.size()) return false;
  const ConstraintSegment& g = segments_[s.seg];
  switch (g.kind) {
    case ConstraintSegment::Kind::Literal:
      if (!s.also.empty()) return advance_choice(s, c);
      if (c != static_cast<unsigned char>(g.text[s.lit_at])) return false;
      if (++s.lit_at == g.text.size()) enter(s, s.seg + 1);
      return true;
    case ConstraintSegment::Kind::Json:
      if (s.matcher.can_end()) {
        // A bare number or literal may go on, or end here if the byte starts what follows.
        SchemaMatcher longer = s.matcher;
        if (!longer.push(c)) {
          enter(s, s.seg + 1);
          return advance_byte(s, c);
        }
        s.matcher = std::move(longer);
      } else if (!s.matcher.push(c)) {
        return false;
      }
      if (s.matcher.closed()) enter(s, s.seg + 1);
      return true;
    case ConstraintSegment::Kind::BareString:
      if (c == '<') {
        if (!s.matcher.push('"') || !s.matcher.closed()) return false;
        enter(s, s.seg + 1);
        return advance_byte(s, c);
      }
      return push_escaped(s.matcher, c);
  }
  return false;
}

// Several literals in the running: keep those the byte continues; the first one written whole
// wins (the group's literal before what follows it).
bool JsonSchemaConstraint::advance_choice(State& s, unsigned char c) const {
  size_t kept = 0;
  const size_t n = s.also.size() + 1;
  for (size_t j = 0; j < n; ++j) {
    const size_t seg = j == 0 ? s.seg : s.also[j - 1];
    if (c != static_cast<unsigned char>(segments_[seg].text[s.lit_at])) continue;
    if (kept == 0) s.seg = seg;
    else s.also[kept - 1] = seg;
    ++kept;
  }
  if (kept == 0) return false;
  s.also.resize(kept - 1);
  ++s.lit_at;
  for (size_t j = 0; j < kept; ++j) {
    const size_t seg = j == 0 ? s.seg : s.also[j - 1];
    if (s.lit_at == segments_[seg].text.size()) {
      enter(s, seg + 1);
      return true;
    }
  }
  return true;
}

bool JsonSchemaConstraint::advance(State& s, std::string_view bytes) const {
  for (char ch : bytes)
    if (!advance_byte(s, static_cast<unsigned char>(ch))) return false;
  return true;
}

int64_t JsonSchemaConstraint::completion(const State& s) const {
  if (s.seg >= segments_.size()) return 0;
  const ConstraintSegment& g = segments_[s.seg];
  if (g.kind != ConstraintSegment::Kind::Literal) return s.matcher.min_completion() + rest_[s.seg + 1];
  int64_t best = literal_costs_[s.seg][s.lit_at] + rest_[s.seg + 1];
  for (size_t seg : s.also) best = std::min<int64_t>(best, literal_costs_[seg][s.lit_at] + rest_[seg + 1]);
  return best;
}

std::vector<int32_t> JsonSchemaConstraint::literal_token_costs(const std::string& text) const {
  const size_t n = text.size();
  std::vector<int32_t> cost(n + 1, 0);
  for (size_t i = n; i-- > 0;) {
    // One token per byte where no token spells a piece (then the text cannot be written at all,
    // and the estimate stays what it was before tokens were counted).
    cost[i] = cost[i + 1] + 1;
    for (size_t len = 1; len <= std::min(table_->longest_spelling, n - i); ++len) {
      const auto it = table_->by_spelling.find(text.substr(i, len));
      if (it == table_->by_spelling.end() || stop_token(it->second)) continue;
      cost[i] = std::min(cost[i], cost[i + len] + 1);
    }
  }
  return cost;
}

bool JsonSchemaConstraint::can_end(const State& s) const {
  if (s.seg >= segments_.size()) return true;
  // A document that ends the text may end on a bare number (it never closes with a bracket).
  return s.seg + 1 == segments_.size() && segments_[s.seg].kind == ConstraintSegment::Kind::Json && s.matcher.can_end();
}

bool JsonSchemaConstraint::is_complete() const { return !failed_ && state_.seg >= segments_.size(); }

bool JsonSchemaConstraint::stop_token(int32_t id) const {
  return std::find(stop_tokens_.begin(), stop_tokens_.end(), id) != stop_tokens_.end();
}

// An added token may spell a literal part only, wholly inside it: never a document's bytes.
bool JsonSchemaConstraint::token_fits_literal(const State& s, int32_t id) const {
  if (!in_literal(s) || stop_token(id)) return false;
  const size_t end = s.lit_at + table_->bytes[size_t(id)].size();
  if (end <= segments_[s.seg].text.size()) return true;
  for (size_t seg : s.also)
    if (end <= segments_[seg].text.size()) return true;
  return false;
}

const JsonSchemaConstraint::Allowed& JsonSchemaConstraint::allowed() {
  const bool literal = in_literal(state_);
  std::string key = std::to_string(state_.seg) + "/" + std::to_string(state_.lit_at) + "/";
  for (size_t seg : state_.also) key += std::to_string(seg) + ",";
  if (!literal && state_.seg < segments_.size()) key += state_.matcher.key();
  if (auto it = cache_.find(key); it != cache_.end()) {
    ++hits_;
    return *it->second;
  }
  ++misses_;
  const auto reset_probe = [&] {
    probe_.seg = state_.seg;
    probe_.lit_at = state_.lit_at;
    probe_.also = state_.also;
    probe_.matcher.assign_state(state_.matcher);
  };
  bool first_ok[256];
  for (int b = 0; b < 256; ++b) {
    reset_probe();
    first_ok[b] = advance_byte(probe_, static_cast<unsigned char>(b));
  }
  auto a = std::make_shared<Allowed>();
  const int32_t n = int32_t(table_->bytes.size());
  // Inside a JSON string, plain content tokens change nothing: valid, with the same completion.
  const bool skip_plain = !literal && state_.seg < segments_.size() &&
                          segments_[state_.seg].kind == ConstraintSegment::Kind::Json && state_.matcher.in_plain_string() &&
                          table_->plain.size() == table_->bytes.size();
  const int64_t here = completion(state_);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& bytes = table_->bytes[size_t(id)];
    if (bytes.empty() || !first_ok[static_cast<unsigned char>(bytes[0])]) continue;
    if (!table_->usable[size_t(id)] && !token_fits_literal(state_, id)) continue;
    if (skip_plain && table_->plain[size_t(id)]) {
      a->tokens.push_back(id);
      a->completion.push_back(capped(here));
      continue;
    }
    reset_probe();
    if (!advance(probe_, bytes)) continue;
    a->tokens.push_back(id);
    a->completion.push_back(capped(completion(probe_)));
  }
  if (cache_entries_total_ + a->tokens.size() > kMaxCachedEntries) {
    cache_.clear();
    cache_entries_total_ = 0;
  }
  cache_entries_total_ += a->tokens.size();
  return *cache_.emplace(std::move(key), std::move(a)).first->second;
}

void JsonSchemaConstraint::mask(float* logits, int64_t n_vocab) {
  const float ninf = -std::numeric_limits<float>::infinity();
  keep_.assign(size_t(n_vocab), 0);
  bool any = false;
  if (!failed_) {
    const Allowed& a = allowed();
    // After this token tokens_left_ - 1 remain: the completion must fit in them.
    const int64_t budget_after = tokens_left_ - 1;
    bool fits = false;
    for (size_t i = 0; i < a.tokens.size() && !fits; ++i)
      fits = a.completion[i] <= budget_after && a.tokens[i] < n_vocab && std::isfinite(logits[a.tokens[i]]);
    for (size_t i = 0; i < a.tokens.size(); ++i)
      if ((!fits || a.completion[i] <= budget_after) && a.tokens[i] < n_vocab) keep_[size_t(a.tokens[i])] = any = true;
    fit_budget_ = fits;
  } else {
    fit_budget_ = false;
  }
  // A stop token may end the answer once the text is complete (or when nothing else can
  // follow, which only a broken state gives).
  if ((!failed_ && can_end(state_)) || !any)
    for (int32_t id : stop_tokens_)
      if (id >= 0 && id < n_vocab) {
        keep_[size_t(id)] = 1;
        if (!std::isfinite(logits[id])) logits[id] = 0.0f;
      }
  for (int64_t id = 0; id < n_vocab; ++id)
    if (!keep_[size_t(id)]) logits[id] = ninf;
}

void JsonSchemaConstraint::accept(int32_t token) {
  --tokens_left_;
  if (failed_) return;
  if (token < 0 || token >= int32_t(table_->bytes.size())) {
    failed_ = true;
    return;
  }
  if (stop_token(token)) return;  // it ends the answer
  if (!table_->usable[size_t(token)] && !token_fits_literal(state_, token)) {
    failed_ = true;
    return;
  }
  if (!advance(state_, table_->bytes[size_t(token)])) failed_ = true;
}

AnyOfConstraint::AnyOfConstraint(std::vector<std::shared_ptr<JsonSchemaConstraint>> alternatives)
    : alternatives_(std::move(alternatives)) {}

void AnyOfConstraint::mask(float* logits, int64_t n_vocab) {
  // Each alternative masks its own copy; a token keeps the highest value any of them leaves
  // (a stop token an alternative revives at 0 stays revived). When some alternative can still
  // finish within the tokens left, the ones that cannot (they keep every valid token) are left
  // out, so the answer is not steered into a call that runs out of tokens.
  const float ninf = -std::numeric_limits<float>::infinity();
  merged_.assign(size_t(n_vocab), ninf);
  merged_fitting_.assign(size_t(n_vocab), ninf);
  bool any_fits = false;
  for (const auto& alt : alternatives_) {
    scratch_.assign(logits, logits + n_vocab);
    alt->mask(scratch_.data(), n_vocab);
    std::vector<float>& into = alt->fit_budget() ? merged_fitting_ : merged_;
    any_fits |= alt->fit_budget();
    for (int64_t id = 0; id < n_vocab; ++id) into[size_t(id)] = std::max(into[size_t(id)], scratch_[size_t(id)]);
  }
  if (!any_fits) {
    std::copy(merged_.begin(), merged_.end(), logits);
    return;
  }
  std::copy(merged_fitting_.begin(), merged_fitting_.end(), logits);
}

void AnyOfConstraint::accept(int32_t token) {
  std::vector<std::shared_ptr<JsonSchemaConstraint>> alive;
  for (const auto& alt : alternatives_) {
    alt->accept(token);
    if (!alt->failed()) alive.push_back(alt);
  }
  // None can take the token (a stop token forced by a broken state): keep them all, failed,
  // so only stop tokens remain allowed.
  if (!alive.empty()) alternatives_ = std::move(alive);
}

bool AnyOfConstraint::is_complete() const {
  for (const auto& alt : alternatives_)
    if (alt->is_complete()) return true;
  return false;
}

}  // namespace dragon
