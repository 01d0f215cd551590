// One normalized description of a model, filled from HF config.json or from GGUF metadata.
// Model code reads only this. Field names follow the HF / DeepSeek spelling where one exists.
// A field a family does not use keeps its zero / default value.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dragon {

struct RopeScaling {
  std::string type = "none";  // none | linear | dynamic | yarn | llama3
  double factor = 1.0;
  int64_t original_context_length = 0;
  // YaRN (DeepSeek adds mscale / mscale_all_dim)
  double beta_fast = 32.0, beta_slow = 1.0, mscale = 0.0, mscale_all_dim = 0.0;
  double attn_factor = 1.0;
  // Llama-3 style
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
};

struct ModelConfig {
  std::string arch;              // dragon's family id, = llama.cpp's GGUF general.architecture
  std::string hf_architecture;   // e.g. "Qwen3ForCausalLM"
  std::string name;              // general.name / preset name, informative

  // Shape
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;            // per-head q/k dim (hidden_size / n_heads unless the config says)
  int64_t v_head_dim = 0;          // per-head v dim (= head_dim unless MLA)
  int64_t intermediate_size = 0;   // dense FFN width
  int64_t context_length = 0;      // max_position_embeddings
  bool tie_word_embeddings = false;

  // Norms and biases
  double norm_eps = 1e-6;          // rms_norm_eps / layernorm_epsilon
  bool attention_bias = false;     // q/k/v projections carry a bias (Qwen2, GLM, ...)
  bool attention_out_bias = false; // o_proj carries a bias
  bool mlp_bias = false;
  bool qk_norm = false;            // RMSNorm on q and k per head (Qwen3, GLM-4.5 optional, ...)

  // Position encoding
  double rope_theta = 10000.0;
  int64_t rotary_dim = 0;          // dims rotated per head (partial rotary); = head_dim if full
  bool rope_interleaved = false;   // GPT-J style pairs (x0,x1) vs NeoX halves
  RopeScaling rope_scaling;
  bool alibi = false;              // Baichuan-13B

  // Mixture of experts (n_experts = 0 for dense models)
  int64_t n_experts = 0;               // routed experts
  int64_t n_experts_used = 0;          // top-k
  int64_t n_shared_experts = 0;
  int64_t moe_intermediate_size = 0;   // per routed expert
  int64_t shared_expert_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;   // first layers use the dense FFN
  int64_t moe_layer_freq = 1;
  int64_t n_group = 0, topk_group = 0; // group-limited routing
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  std::string scoring_func = "softmax";  // softmax | sigmoid
  // The gated activation of every FFN (dense, routed and shared experts): silu(gate) * up, or
  // gpt-oss's clamped "swigluoai" (MiniMax-M3): min(g, 7) sigmoid(1.702 min(g, 7)) (clamp(u, +-7) + 1).
  bool swiglu_oai = false;
  bool expert_score_bias = false;        // e_score_correction_bias present (noaux_tc)

  // Multi-head latent attention (DeepSeek-V2/V3, Kimi K2)
  int64_t q_lora_rank = 0;         // 0 = no q compression (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;

  int64_t n_nextn_layers = 0;      // MTP layers appended after the main stack

  // Hunyuan Hy4 (models/hyper_connections.h, models/mla.h): hc_mult parallel residual streams
  // (independent hyper-connections; 0 = the plain residual), the sigmoid gates' epsilon and the
  // post-distribute gates' magnitude; MLA with one learnable sink logit per head and a sigmoid
  // gate on the attention output before o_proj; the routed experts' SwiGLU clamped at
  // swiglu_limit (silu(min(gate, l)) * clamp(up, -l, l); 0 = no clamp; shared experts never).
  int64_t hc_mult = 0;
  double hc_eps = 1e-6;
  double hc_magnitude = 1.0;
  bool attention_sinks = false;
  bool attention_output_gate = false;
  double swiglu_limit = 0.0;

  // DeepSeek Sparse Attention (DeepSeek-V3.2, models/dsa_indexer.h): a lightning indexer of
  // index_n_heads heads of index_head_dim scores the cached positions, and each query attends
  // only to the index_topk best of them. 0 = dense attention.
  int64_t index_n_heads = 0;
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;
  // MiniMax Sparse Attention (MiniMax-M3, models/msa.h): the same index_n_heads (one per kv head)
  // x index_head_dim indexer scores the cached positions per GQA group, and each query attends
  // only to the msa_topk_blocks position blocks of msa_block_size with the best (max) score, the
  // msa_local_blocks latest always among them. Layers below first_k_dense_replace stay dense.
  // msa_block_size 0 = no MSA.
  int64_t msa_block_size = 0;
  int64_t msa_topk_blocks = 0;
  int64_t msa_local_blocks = 0;
  bool index_rope_interleaved = false;  // GLM-5: the indexer's rope pairs adjacent dims (V3.2: halves)

  // Hybrid linear attention (Qwen3-Next's Gated DeltaNet; MiniMax-01's lightning attention, which
  // has no conv: conv_kernel 1, n_k = n_v = n_heads, head dims = head_dim): every layer except each
  // full_attention_interval-th one mixes tokens through a per-head recurrent state matrix (after a
  // short causal conv1d for the DeltaNet) instead of attention over a KV cache.
  int64_t full_attention_interval = 0;  // 0 = no linear-attention layers
  int64_t linear_n_k_heads = 0;         // q/k heads of the delta rule (llama.cpp ssm.group_count)
  int64_t linear_n_v_heads = 0;         // v heads = state matrices (ssm.time_step_rank)
  int64_t linear_k_head_dim = 0;        // ssm.state_size
  int64_t linear_v_head_dim = 0;
  int64_t linear_conv_kernel = 0;       // ssm.conv_kernel
  // Kimi Linear names its full-attention layers (linear_attn_config.full_attn_layers; llama.cpp:
  // head_count_kv 0 per KDA layer) instead of an interval: one entry per layer, 1 = recurrent.
  // Empty = the full_attention_interval rule.
  std::vector<uint8_t> recurrent_layers;
  // Kimi Delta Attention (Kimi Linear) instead of Gated DeltaNet: the decay is per key channel,
  // not per head, q/k/v have a short conv each, and n_k = n_v heads (models/kda.h).
  bool linear_kda = false;
  // MLA whose decoupled qk_rope dims are never rotated (Kimi Linear's mla_use_nope).
  bool mla_nope = false;

  // Kimi-K3 (models/kimi_k3.cc) on top of Kimi Linear's fields:
  //  - KDA: a full-rank output gate (one [H d, hidden] g_proj instead of g_a/g_b) and a bounded
  //    decay  g = lower_bound * sigmoid(exp(A_log) (f + dt_bias))  when kda_gate_lower_bound < 0
  //    (0 = Kimi Linear's  -exp(A_log) softplus(f + dt_bias));
  //  - MLA: a sigmoid output gate sigmoid(x Wg) on the attention output before o_proj;
  //  - latent MoE: the routed experts run at expert_latent_size (0 = hidden_size), between a
  //    down projection, an RMSNorm and an up projection;
  //  - SiTU instead of SwiGLU in every FFN when situ_beta > 0:
  //      situ(g, u) = beta tanh(g / beta) sigmoid(g) * lb tanh(u / lb)   (lb <= 0: u unchanged);
  //  - block attention residuals every attn_res_block_size layers (0 = the plain residual).
  bool kda_full_rank_gate = false;
  double kda_gate_lower_bound = 0.0;
  bool mla_output_gate = false;
  int64_t expert_latent_size = 0;
  double situ_beta = 0.0, situ_linear_beta = 0.0;
  int64_t attn_res_block_size = 0;

  // DeepNorm-style residual scaling (MiniMax-01 / M1): after each sublayer
  //   h = alpha * r + beta * sublayer(norm(h)),  r = norm(h) if residual_from_norm ("postnorm") else h.
  // The defaults (1, 1, false) are the plain pre-norm residual.
  double residual_alpha_linear = 1.0, residual_beta_linear = 1.0;  // linear-attention layers
  double residual_alpha_full = 1.0, residual_beta_full = 1.0;      // softmax-attention layers
  double residual_alpha_mlp = 1.0, residual_beta_mlp = 1.0;        // the FFN / MoE
  bool residual_from_norm = false;

  // Special tokens, from the config (tokenizer files may override)
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  nlohmann::json source;           // the HF config.json this came from ({} if from GGUF)

  bool is_moe() const { return n_experts > 0; }
  bool is_mla() const { return kv_lora_rank > 0; }
  bool is_hybrid() const { return full_attention_interval > 0 || !recurrent_layers.empty(); }
  bool is_dsa() const { return index_topk > 0; }
  bool is_msa() const { return msa_block_size > 0; }
  // True if layer `il` selects its attention blocks with the MSA indexer (the MoE layers).
  bool layer_is_msa(int64_t il) const { return is_msa() && il >= first_k_dense_replace; }
  // True if layer `il` is a linear-attention (recurrent) layer.
  bool layer_is_recurrent(int64_t il) const {
    if (!recurrent_layers.empty())
      return il >= 0 && il < static_cast<int64_t>(recurrent_layers.size()) && recurrent_layers[il] != 0;
    return is_hybrid() && (il + 1) % full_attention_interval != 0;
  }
  // Channels of the conv1d (q, k and v of every head, in that order).
  int64_t linear_conv_channels() const {
    return 2 * linear_n_k_heads * linear_k_head_dim + linear_n_v_heads * linear_v_head_dim;
  }
  // Floats of one sequence's state in one recurrent layer: the last conv_kernel - 1 conv inputs,
  // then one [k_head_dim x v_head_dim] delta-rule matrix per v head.
  int64_t recurrent_state_floats() const {
    if (!is_hybrid()) return 0;
    return (linear_conv_kernel - 1) * linear_conv_channels() + linear_n_v_heads * linear_k_head_dim * linear_v_head_dim;
  }
  // True if layer `il` uses the MoE FFN (DeepSeek's first_k_dense_replace / moe_layer_freq).
  bool layer_is_moe(int64_t il) const {
    return is_moe() && il >= first_k_dense_replace && (moe_layer_freq <= 1 || il % moe_layer_freq == 0);
  }
};

nlohmann::json config_to_json(const ModelConfig& config);  // for `dragon info --json`

// Checks sizes are positive, within sane bounds (a hostile file must not make dragon allocate
// terabytes) and consistent (kv heads divide heads, top-k <= experts, ...). Throws dragon::Error
// naming the field. config_from_hf / config_from_gguf call it after the family's reader.
void validate_config(const ModelConfig& config);

}  // namespace dragon
