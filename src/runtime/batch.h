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

  void add(int32_t token, int64_t position, int32_t seq_id, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    seq_ids.push_back(seq_id);
    want_logits.push_back(logits ? 1 : 0);
  }
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_outputs() const {
    int64_t n = 0;
    for (uint8_t w : want_logits) n += w;
    return n;
  }
};

}  // namespace dragon
