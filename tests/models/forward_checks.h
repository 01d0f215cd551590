// Checks the families' forward tests share: feeding tokens as one batch or one step at a time,
// the relative RMSE of two logit sets, and that
// sequences in one batch never see each other (two prompts interleaved token by token as
// sequences 1 and 0 of one batch, against the logits of each prompt run alone).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/batch.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"

namespace dragon {

// The logits of `tokens` as one batch of sequence `seq`, at positions first_pos, first_pos + 1, ...
inline Activations feed(Model& m, KVCache& cache, ThreadPool& pool, const std::vector<int32_t>& tokens, int64_t first_pos,
                        int seq = 0) {
  Batch b;
  for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], first_pos + static_cast<int64_t>(i), seq, true);
  return m.forward(b, cache, pool);
}

// The logits of `tokens` (from position 0 of sequence 0) fed one forward step per token: a
// recurrent model's step form, against which its batched (chunked / block) form is checked.
inline Activations feed_token_by_token(Model& m, KVCache& cache, ThreadPool& pool, const std::vector<int32_t>& tokens) {
  Activations out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Activations row = feed(m, cache, pool, {tokens[i]}, static_cast<int64_t>(i));
    if (i == 0) out = Activations(static_cast<int64_t>(tokens.size()), row.cols);
    std::copy(row.data.begin(), row.data.end(), out.row(static_cast<int64_t>(i)));
  }
  return out;
}

// sqrt(sum (a - b)^2 / sum b^2) over every logit: b is the reference.
inline double rel_rmse(const Activations& a, const Activations& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    num += std::pow(double(a.data[i]) - b.data[i], 2);
    den += std::pow(double(b.data[i]), 2);
  }
  return std::sqrt(num / den);
}

// The largest absolute logit difference between the interleaved batch (run into `shared`, a cache
// with at least two sequences) and alone_a / alone_b (the logits of `a` / `b` run alone).
inline double interleaved_vs_alone(Model& model, const std::vector<int32_t>& a, const std::vector<int32_t>& b,
                                   const Activations& alone_a, const Activations& alone_b, KVCache& shared,
                                   ThreadPool& pool) {
  Batch batch;
  std::vector<std::pair<int, int64_t>> order;  // (sequence, position) of each batch row
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) {
      batch.add(a[i], static_cast<int64_t>(i), 1, true);
      order.push_back({1, static_cast<int64_t>(i)});
    }
    if (i < b.size()) {
      batch.add(b[i], static_cast<int64_t>(i), 0, true);
      order.push_back({0, static_cast<int64_t>(i)});
    }
  }
  const Activations mixed = model.forward(batch, shared, pool);
  double err = 0;
  for (size_t r = 0; r < order.size(); ++r) {
    const Activations& ref = order[r].first == 1 ? alone_a : alone_b;
    for (int64_t v = 0; v < mixed.cols; ++v)
      err = std::max(err, std::fabs(double(mixed.row(static_cast<int64_t>(r))[v]) - ref.row(order[r].second)[v]));
  }
  return err;
}

}  // namespace dragon
