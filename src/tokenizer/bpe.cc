#include "tokenizer/bpe.h"

#include <fmt/format.h>

#include <queue>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace dragon {

namespace {
constexpr size_t kCacheLimit = 1 << 16;
constexpr size_t kCachedPieceMaxBytes = 64;
}  // namespace

BpeModel::BpeModel(std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
                   Options options)
    : tokens_(std::move(tokens)), options_(options) {
  ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<int32_t>(i));  // first spelling wins
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = find(a), ib = find(b), ir = find(a + b);
    if (!ia || !ib || !ir) fail("BPE merge #{} \"{} {}\" uses a token that is not in the vocabulary", rank, a, b);
    merges_.try_emplace(pair_key(*ia, *ib), Merge{static_cast<int32_t>(rank), *ir});
  }
  const auto& alphabet = ByteLevelAlphabet::get();
  for (int b = 0; b < 256; ++b) {
    std::optional<int32_t> id;
    if (options_.byte_level) id = find(alphabet.byte_to_utf8[b]);
    else if (options_.byte_fallback) id = find(fmt::format("<0x{:02X}>", b));
    byte_ids_[b] = id ? *id : -1;
  }
}

std::optional<int32_t> BpeModel::find(std::string_view spelling) const {
  auto it = ids_.find(std::string(spelling));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::initial_symbols(std::string_view piece, std::vector<int32_t>& symbols) const {
  if (options_.byte_level) {
    for (unsigned char b : piece) {
      if (byte_ids_[b] >= 0) symbols.push_back(byte_ids_[b]);
      else if (options_.unk_id >= 0) symbols.push_back(options_.unk_id);
    }
    return;
  }
  for (size_t i = 0; i < piece.size();) {
    size_t start = i;
    next_code_point(piece, i);
    std::string_view ch = piece.substr(start, i - start);
    if (auto id = find(ch)) {
      symbols.push_back(*id);
    } else if (options_.byte_fallback) {
      for (unsigned char b : ch)
        if (byte_ids_[b] >= 0) symbols.push_back(byte_ids_[b]);
        else if (options_.unk_id >= 0) symbols.push_back(options_.unk_id);
    } else if (options_.unk_id >= 0) {
      symbols.push_back(options_.unk_id);
    }
  }
}

// Merges by rank with a priority queue over adjacent pairs and a doubly linked list of symbols:
// O(n log n) per piece. Stale queue entries are detected by re-checking the pair.
void BpeModel::merge(std::vector<int32_t>& symbols) const {
  const int n = static_cast<int>(symbols.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
  struct Candidate { int32_t rank; int left; int32_t a, b; };
  auto cmp = [](const Candidate& x, const Candidate& y) { return x.rank != y.rank ? x.rank > y.rank : x.left > y.left; };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(cmp)> queue(cmp);
  auto push = [&](int left) {
    int right = next[left];
    if (left < 0 || right < 0) return;
    auto it = merges_.find(pair_key(symbols[left], symbols[right]));
    if (it != merges_.end()) queue.push({it->second.rank, left, symbols[left], symbols[right]});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> alive(n, true);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    int right = next[c.left];
    if (!alive[c.left] || right < 0 || symbols[c.left] != c.a || symbols[right] != c.b) continue;
    symbols[c.left] = merges_.at(pair_key(c.a, c.b)).result;
    alive[right] = false;
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    if (prev[c.left] >= 0) push(prev[c.left]);
    push(c.left);
  }
  std::vector<int32_t> out;
  for (int i = 0; i >= 0; i = next[i]) out.push_back(symbols[i]);
  symbols = std::move(out);
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (options_.ignore_merges) {
    std::string spelled = options_.byte_level ? ByteLevelAlphabet::get().encode(piece) : std::string(piece);
    if (auto id = find(spelled)) { out.push_back(*id); return; }
  }
  const bool cacheable = piece.size() <= kCachedPieceMaxBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(std::string(piece));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  initial_symbols(piece, symbols);
  merge(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kCacheLimit) cache_.clear();
    cache_.emplace(std::string(piece), std::move(symbols));
  }
}

}  // namespace dragon
