#include "server/json_schema_constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dragon {

namespace {

// Cached (token, completion) pairs over all states before the cache starts afresh (~16 MB).
constexpr size_t kMaxCachedEntries = size_t{1} << 20;

}  // namespace

JsonSchemaConstraint::JsonSchemaConstraint(std::shared_ptr<const JsonSchema> schema, std::shared_ptr<const TokenTable> table,
                                           std::vector<int32_t> stop_tokens, int64_t max_tokens)
    : schema_(schema), table_(std::move(table)), stop_tokens_(std::move(stop_tokens)), tokens_left_(max_tokens),
      matcher_(schema), probe_(schema) {}

const JsonSchemaConstraint::Allowed& JsonSchemaConstraint::allowed() {
  std::string key = matcher_.key();
  if (auto it = cache_.find(key); it != cache_.end()) {
    ++hits_;
    return *it->second;
  }
  ++misses_;
  bool first_ok[256];
  for (int b = 0; b < 256; ++b) {
    probe_.assign_state(matcher_);
    first_ok[b] = probe_.push(static_cast<unsigned char>(b));
  }
  auto a = std::make_shared<Allowed>();
  const int32_t n = int32_t(table_->bytes.size());
  // Inside a string, plain content tokens change nothing: valid, with the same completion.
  const bool skip_plain = matcher_.in_plain_string() && table_->plain.size() == table_->bytes.size();
  const int64_t here = matcher_.min_completion();
  for (int32_t id = 0; id < n; ++id) {
    const std::string& bytes = table_->bytes[size_t(id)];
    if (!table_->usable[size_t(id)] || !first_ok[static_cast<unsigned char>(bytes[0])]) continue;
    if (skip_plain && table_->plain[size_t(id)]) {
      a->tokens.push_back(id);
      a->completion.push_back(here);
      continue;
    }
    probe_.assign_state(matcher_);
    if (!probe_.push(bytes)) continue;
    a->tokens.push_back(id);
    a->completion.push_back(probe_.min_completion());
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
  if (matcher_.alive()) {
    const Allowed& a = allowed();
    // After this token tokens_left_ - 1 remain: the completion must fit in them.
    const int64_t budget_after = tokens_left_ - 1;
    bool fits = false;
    for (size_t i = 0; i < a.tokens.size() && !fits; ++i)
      fits = a.completion[i] <= budget_after && a.tokens[i] < n_vocab && std::isfinite(logits[a.tokens[i]]);
    for (size_t i = 0; i < a.tokens.size(); ++i)
      if ((!fits || a.completion[i] <= budget_after) && a.tokens[i] < n_vocab) keep_[size_t(a.tokens[i])] = any = true;
  }
  // A stop token may end the answer once the document is complete (or when nothing else can
  // follow, which only a broken state gives).
  if (matcher_.can_end() || !any)
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
  if (token >= 0 && token < int32_t(table_->bytes.size()) && table_->usable[size_t(token)])
    matcher_.push(table_->bytes[size_t(token)]);
}

}  // namespace dragon
