#include "server/json_schema_constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dragon {

namespace {

// Cached (token, completion) pairs over all states before the cache starts afresh (~8 MB).
constexpr size_t kMaxCachedEntries = size_t{1} << 20;

int32_t capped(int64_t n) { return int32_t(std::min<int64_t>(n, std::numeric_limits<int32_t>::max())); }

}  // namespace

JsonSchemaConstraint::JsonSchemaConstraint(std::shared_ptr<const JsonSchema> schema, std::shared_ptr<const TokenTable> table,
                                           std::vector<int32_t> stop_tokens, int64_t max_tokens, std::string prefix,
                                           std::string suffix)
    : schema_(schema), table_(std::move(table)), stop_tokens_(std::move(stop_tokens)), tokens_left_(max_tokens),
      prefix_(std::move(prefix)), suffix_(std::move(suffix)), state_{0, SchemaMatcher(schema), 0},
      probe_{0, SchemaMatcher(schema), 0} {}

bool JsonSchemaConstraint::advance(State& s, std::string_view bytes) const {
  for (char ch : bytes) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (s.prefix_at < prefix_.size()) {
      if (c != static_cast<unsigned char>(prefix_[s.prefix_at])) return false;
      ++s.prefix_at;
    } else if (!s.matcher.closed()) {
      if (!s.matcher.push(c)) return false;
    } else {
      if (s.suffix_at >= suffix_.size() || c != static_cast<unsigned char>(suffix_[s.suffix_at])) return false;
      ++s.suffix_at;
    }
  }
  return true;
}

int64_t JsonSchemaConstraint::completion(const State& s) const {
  return int64_t(prefix_.size() - s.prefix_at) + s.matcher.min_completion() + int64_t(suffix_.size() - s.suffix_at);
}

bool JsonSchemaConstraint::can_end(const State& s) const {
  if (s.prefix_at < prefix_.size()) return false;
  if (suffix_.empty()) return s.matcher.can_end();
  return s.matcher.closed() && s.suffix_at == suffix_.size();
}

bool JsonSchemaConstraint::is_complete() const {
  return state_.prefix_at == prefix_.size() && state_.matcher.closed() && state_.suffix_at == suffix_.size();
}

bool JsonSchemaConstraint::stop_token(int32_t id) const {
  return std::find(stop_tokens_.begin(), stop_tokens_.end(), id) != stop_tokens_.end();
}

const JsonSchemaConstraint::Allowed& JsonSchemaConstraint::allowed() {
  std::string key = state_.matcher.key();
  key += std::to_string(state_.prefix_at) + "/" + std::to_string(state_.suffix_at);
  if (auto it = cache_.find(key); it != cache_.end()) {
    ++hits_;
    return *it->second;
  }
  ++misses_;
  const auto reset_probe = [&] {
    probe_.prefix_at = state_.prefix_at;
    probe_.suffix_at = state_.suffix_at;
    probe_.matcher.assign_state(state_.matcher);
  };
  bool first_ok[256];
  for (int b = 0; b < 256; ++b) {
    reset_probe();
    const char c = static_cast<char>(b);
    first_ok[b] = advance(probe_, std::string_view(&c, 1));
  }
  auto a = std::make_shared<Allowed>();
  const int32_t n = int32_t(table_->bytes.size());
  // Added tokens spell the literal parts only; inside the document only byte-level tokens.
  const bool literal = !in_document(state_);
  // Inside a string, plain content tokens change nothing: valid, with the same completion.
  const bool skip_plain = !literal && state_.matcher.in_plain_string() && table_->plain.size() == table_->bytes.size();
  const int64_t here = completion(state_);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& bytes = table_->bytes[size_t(id)];
    if (bytes.empty() || !first_ok[static_cast<unsigned char>(bytes[0])]) continue;
    // An added token must lie wholly in a literal part: it may not run into the document.
    if (!table_->usable[size_t(id)] &&
        (!literal || stop_token(id) || (state_.prefix_at < prefix_.size() && state_.prefix_at + bytes.size() > prefix_.size())))
      continue;
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
  if (state_.matcher.alive()) {
    const Allowed& a = allowed();
    // After this token tokens_left_ - 1 remain: the completion must fit in them.
    const int64_t budget_after = tokens_left_ - 1;
    bool fits = false;
    for (size_t i = 0; i < a.tokens.size() && !fits; ++i)
      fits = a.completion[i] <= budget_after && a.tokens[i] < n_vocab && std::isfinite(logits[a.tokens[i]]);
    for (size_t i = 0; i < a.tokens.size(); ++i)
      if ((!fits || a.completion[i] <= budget_after) && a.tokens[i] < n_vocab) keep_[size_t(a.tokens[i])] = any = true;
  }
  // A stop token may end the answer once the text is complete (or when nothing else can
  // follow, which only a broken state gives).
  if (can_end(state_) || !any)
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
  if (token < 0 || token >= int32_t(table_->bytes.size()) || stop_token(token)) return;
  if (table_->usable[size_t(token)] || !in_document(state_)) advance(state_, table_->bytes[size_t(token)]);
}

}  // namespace dragon
