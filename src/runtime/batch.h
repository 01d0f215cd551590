// A batch of tokens from any number of sequences, each token with its position and sequence id.
// Prefill (many tokens of one sequence) and decode (one token of each of many sequences) are the
// same thing to the model.
#pragma once

#include <cstdint>
#include <vector>

namespace dragon {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int64_t> positions;
  std::vector<int32_t> seq_ids;
  std::vector<uint8_t> want_logits;  // 1 = return this token's logits row
  // Attention arithmetic per token (blocks::cached_attention): 1 = as a decode step (one token
  // at a time), 0 = as a prompt (blocks of tokens). The two round differently, so a token whose
  // result must equal an earlier step's — a preempted request's generated tokens when they are
  // recomputed, a speculative verification of what plain decoding would compute — says so.
  // Empty: a sequence's lone token in the batch is a decode step, any other token a prompt one.
  std::vector<uint8_t> stepwise;

  void add(int32_t token, int64_t position, int32_t seq_id, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    seq_ids.push_back(seq_id);
    want_logits.push_back(logits ? 1 : 0);
    if (!stepwise.empty()) stepwise.push_back(0);
  }
  void mark_stepwise(int64_t row) {
    if (stepwise.empty()) stepwise.assign(tokens.size(), 0);
    stepwise[static_cast<size_t>(row)] = 1;
  }
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_outputs() const {
    int64_t n = 0;
    for (uint8_t w : want_logits) n += w;
    return n;
  }
};

}  // namespace dragon
