// Independent hyper-connections (iHC, Tencent Hy4): the residual stream is widened to hc_mult
// parallel streams; a sublayer reads one weighted sum of them and writes its output back into
// each with its own weight. Per token, with S the hc streams flattened to hc * hidden values:
//
//   mix   = RMSNorm(S) fn^T                       no norm weight; fn [n_gates * hc, hc * hidden]
//   pre_i = sigmoid(scale[0] * mix[i] + base[i]) + eps                           i < hc
//   x     = sum_i pre_i S_i                       the sublayer's input (before its own norm)
//   post_i = magnitude * sigmoid(scale[1] * mix[hc + i] + base[hc + i]) + eps    (n_gates = 2)
//   S_i  += post_i * sublayer(x)                  after the sublayer
// The embedding starts all hc streams; the head (n_gates = 1, no post) collapses them before
// the final norm. There is no stream-to-stream comb matrix (DeepSeek-V4's HC has one, with
// Sinkhorn); the streams only mix through this reduce / distribute round trip.
// llama.cpp: src/models/hy-v4.cpp (build_hc_pre / build_hc_post / build_hc_head).
#pragma once

#include <string>
#include <vector>

#include "models/blocks.h"

namespace dragon::blocks {

struct HcWeights {
  const TensorView* fn = nullptr;  // [n_gates * hc, hc * hidden]
  std::vector<float> base;         // [n_gates * hc]
  std::vector<float> scale;        // [n_gates]
};

// `prefix` + "fn.weight" / "base.weight" / "scale.weight" (blk.N.hc_attn_, blk.N.hc_ffn_, output_hc_).
HcWeights load_hc(const Weights& w, const std::string& prefix, const ModelConfig& c, int64_t n_gates);

// x [n, hidden] -> hc copies side by side [n, hc * hidden].
Activations hc_expand(const Activations& x, int64_t hc);

// The sublayer input x [n, hidden]; with `post` non-null (a two-gate HcWeights) also the
// post-distribute weights [n, hc].
Activations hc_pre(const Activations& streams, const HcWeights& w, const ModelConfig& c, ThreadPool& pool,
                   Activations* post);

// streams_i += post_i * out, for every token and stream.
void hc_post(Activations& streams, const Activations& out, const Activations& post);

}  // namespace dragon::blocks
