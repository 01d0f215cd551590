// Multi-token prediction (MTP, "nextn") layers of DeepSeek-V3 / R1 and GLM-4.5, used as the
// drafter of speculative decoding (runtime/speculative.h). One MTP layer at position i reads the
// main model's final hidden state h_i (before the output norm) and the token t_{i+1} that
// follows, and predicts t_{i+2}:
//
//   x   = eh_proj([ RMSNorm_enorm(embed(t_{i+1})) ; RMSNorm_hnorm(h_i) ])     [2*hidden] -> [hidden]
//   x   = one decoder layer of the family on x (DeepSeek-V3: MLA + DeepSeekMoE; GLM-4.5: GQA + MoE),
//         with its own one-layer KV cache indexed by position i
//   logits = shared_head.head(RMSNorm_shared_head_norm(x))
//
// The order of the concatenation (embedding first) is that of vLLM's deepseek_mtp.py and of
// llama.cpp's graph_mtp (models/deepseek2.cpp, glm4-moe.cpp); the paper writes it the other way
// round but the released eh_proj weights are laid out for [e ; h]. The embedding and head are the
// layer's own copies when the file has them (model.layers.N.embed_tokens / shared_head.head, GGUF
// blk.N.nextn.embed_tokens / shared_head_head), else the main model's.
#pragma once

#include <memory>
#include <vector>

#include "models/blocks.h"

namespace dragon {

// The interface a family with MTP layers implements beside Model (reached with dynamic_cast).
class MtpModel {
 public:
  virtual ~MtpModel() = default;
  // How many MTP layers this model can run (0: the file has none, e.g. a DeepSeek-V3 GGUF
  // converted by llama.cpp, which drops them).
  virtual int64_t n_mtp_layers() const = 0;
  // While on, Model::forward keeps the final hidden states of every batch row (before the
  // output norm), readable through hidden() until the next forward.
  virtual void keep_hidden(bool on) = 0;
  virtual const Activations& hidden() const = 0;
  // The first MTP layer over `batch`: row t is the entry at batch.positions[t], reading the main
  // model's hidden state hidden.row(t) and the embedding of batch.tokens[t] (the token after that
  // position). Appends to `cache` (built from mtp_cache_config()) and returns the logits of the
  // rows whose want_logits is set; `out_hidden`, if given, receives the layer's output of every
  // row (before shared_head.norm), which a chained draft feeds back as the next hidden state.
  virtual Activations mtp_forward(const Activations& hidden, const Batch& batch, KVCache& cache, ThreadPool& pool,
                                  Activations* out_hidden = nullptr) = 0;
  // The config of the MTP layer's own KV cache (the model's, with one layer).
  virtual ModelConfig mtp_cache_config() const = 0;
};

namespace blocks {

// The MTP-specific tensors of layer `il` (blk.il.nextn.*).
struct MtpHeadWeights {
  const TensorView* embed = nullptr;  // nextn.embed_tokens, else token_embd
  std::vector<float> enorm, hnorm;
  Linear eh_proj;                     // [hidden, 2 * hidden]
  std::vector<float> head_norm;       // nextn.shared_head_norm, else output_norm
  const TensorView* head = nullptr;   // nextn.shared_head_head, else the main output head
};

// `main` holds token_embd / output_norm / output(or tied embedding), `w` the layer's tensors
// (the same object, except for a DeepSeek-V3 HF directory: see load_hf_mtp_weights).
MtpHeadWeights load_mtp_head(const Weights& w, const Weights& main, const ModelConfig& c, int64_t il);

// The MTP layer's own KV cache: the main model's config with one layer and no MTP layers.
ModelConfig mtp_cache_config(const ModelConfig& main);

// x = eh_proj([enorm(embed(tokens)) ; hnorm(hidden)]) for every batch row.
Activations mtp_input(const MtpHeadWeights& m, const Activations& hidden, const Batch& batch, double eps,
                      ThreadPool& pool);
// shared_head.head(shared_head.norm(x)) for the rows wanting logits.
Activations mtp_logits(const MtpHeadWeights& m, const Activations& x, const Batch& batch, double eps,
                       ThreadPool& pool);

// The MTP layers' tensors of an HF directory whose GGUF plan leaves them out (DeepSeek-V3: like
// llama.cpp's converter, dragon's deepseek2 GGUF drops them), converted under their GGUF names
// (blk.N.attn_*, blk.N.ffn_*, blk.N.nextn.*). nullptr when there is nothing to add: a GGUF file,
// no MTP layers, or the family's plan already has them (GLM-4.5).
std::unique_ptr<Weights> load_hf_mtp_weights(const OpenedModel& opened, const Weights& main);

}  // namespace blocks

}  // namespace dragon
