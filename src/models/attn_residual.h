// Block attention residuals (Kimi-K3's AttnRes, "Attention Residuals", Kimi Team 2026; llama.cpp
// kimi-k3.cpp res_mix): instead of feeding a sublayer the running residual stream alone, each
// token mixes it with the checkpoints the model banked at earlier block starts, weighted by a
// softmax over depth:
//
//   values = [bank_0, ..., bank_{k-1}, current]            (each [hidden], one token)
//   score_j = sum_i RMSNorm(values_j)[i] * w[i]            (w = res_norm * res_proj, fused)
//   mixed  = sum_j softmax(score)_j * values_j              (the RAW values, not the normed)
//
// The bank holds the raw layer input of every attn_res_block_size-th layer (0-based il % size
// == 0); with an empty bank the mix is the current stream itself.
#pragma once

#include <vector>

#include "kernels/activations.h"

namespace dragon::blocks {

// current, bank: [n_tokens, hidden] each; w [hidden]. Returns the mix [n_tokens, hidden].
Activations attn_residual_mix(const Activations& current, const std::vector<Activations>& bank,
                              const std::vector<float>& w, double eps);

}  // namespace dragon::blocks
