// MiniMax-Text-01 / MiniMax-M1 (MiniMaxText01ForCausalLM, MiniMaxM1ForCausalLM), from the
// release's modeling_minimax_text_01.py / modeling_minimax_m1.py:
//  - attn_type_list: per layer 0 = lightning attention (self_attn.qkv_proj [3 * n_heads *
//    head_dim, hidden], per head [q | k | v]; self_attn.output_gate, self_attn.norm over all heads,
//    self_attn.out_proj), 1 = softmax attention (q/k/v/o_proj, GQA, NeoX rope on the first
//    rotary_dim dims of each head). The releases put a softmax layer after every 7 lightning ones;
//    llama.cpp derives the kinds from one interval (default 8), so only a periodic list is accepted;
//  - every layer a sparse MoE block (block_sparse_moe): softmax router `gate`, top-k renormalised,
//    experts w1 (gate) / w3 (up) / w2 (down) of intermediate_size; no shared expert;
//  - DeepNorm-style residuals: layernorm_{linear_attention,full_attention,mlp}_{alpha,beta} and
//    postnorm (the residual is the normed input).
// GGUF (conversion/minimax.py MiniMaxText01Model): the common keys, rope.dimension_count =
// rotary_dim, one residual_scale (the converter asserts the three alphas are equal and the betas
// 1); no layer-pattern key, so llama.cpp assumes full_attention_interval 8 — written here only
// when the interval differs. Lightning tensors: attn_qkv, attn_gate, attn_norm_2 (self_attn.norm),
// attn_output; experts stacked into ffn_{gate,up,down}_exps.
// llama.cpp: src/models/minimax-01.cpp.
#include <algorithm>

#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace arch;

const ExpertProjNames kExpertNames{"w1", "w3", "w2"};
constexpr int64_t kDefaultInterval = 8;  // llama.cpp's minimax-01 default

// full_attention_interval from attn_type_list; fails for a list that is not periodic.
int64_t interval_from_attn_types(const json& hf, int64_t n_layers) {
  if (!hf_has(hf, "attn_type_list")) fail("missing key attn_type_list");
  const json& types = hf["attn_type_list"];
  if (!types.is_array() || static_cast<int64_t>(types.size()) != n_layers)
    fail("key attn_type_list: expected a list of {} entries (num_hidden_layers)", n_layers);
  int64_t interval = 0;
  for (int64_t il = 0; il < n_layers; ++il) {
    if (!types[il].is_number_integer() || (types[il].get<int64_t>() != 0 && types[il].get<int64_t>() != 1))
      fail("key attn_type_list: entry {} is {}, expected 0 (lightning) or 1 (softmax attention)", il, types[il].dump());
    if (interval == 0 && types[il].get<int64_t>() == 1) interval = il + 1;
  }
  if (interval == 0) interval = n_layers < kDefaultInterval ? kDefaultInterval : n_layers + 1;  // no softmax layer
  for (int64_t il = 0; il < n_layers; ++il) {
    const int64_t want = (il + 1) % interval == 0 ? 1 : 0;
    if (types[il].get<int64_t>() != want)
      fail("key attn_type_list: entry {} is {}, but the list is not periodic (a softmax layer every {}): "
           "llama.cpp's minimax-01 supports only one interval", il, types[il].get<int64_t>(), interval);
  }
  return interval;
}

void read_hf(const json& hf, ModelConfig& c) {
  for (const char* key : {"num_local_experts", "num_experts_per_tok", "intermediate_size"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  if (hf_string(hf, "hidden_act", "silu") != "silu") fail("key hidden_act: only silu is supported");
  if (c.attention_bias) fail("key attention_bias: true is not supported (MiniMax-01 has no biases)");
  c.rotary_dim = hf_int(hf, "rotary_dim", c.head_dim, 2, c.head_dim);
  c.rope_interleaved = false;
  c.n_experts = hf_int(hf, "num_local_experts", 0, 1, kMaxExperts);
  c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
  c.moe_intermediate_size = c.intermediate_size;
  // shared_intermediate_size is an int or a per-layer list in the releases' configs.
  if (hf_has(hf, "shared_intermediate_size")) {
    const json& s = hf["shared_intermediate_size"];
    const bool zero = s.is_number_integer() ? s.get<int64_t>() == 0
                                            : s.is_array() && std::all_of(s.begin(), s.end(), [](const json& e) {
                                                return e.is_number_integer() && e.get<int64_t>() == 0;
                                              });
    if (!zero) fail("key shared_intermediate_size: shared experts are not supported (llama.cpp's minimax-01 has none)");
  }
  c.norm_topk_prob = true;
  c.scoring_func = "softmax";

  // Lightning attention in the hybrid fields: one state matrix per head, no conv.
  c.full_attention_interval = interval_from_attn_types(hf, c.n_layers);
  c.linear_n_k_heads = c.linear_n_v_heads = c.n_heads;
  c.linear_k_head_dim = c.linear_v_head_dim = c.head_dim;
  c.linear_conv_kernel = 1;

  c.residual_alpha_linear = hf_float(hf, "layernorm_linear_attention_alpha", 1.0);
  c.residual_beta_linear = hf_float(hf, "layernorm_linear_attention_beta", 1.0);
  c.residual_alpha_full = hf_float(hf, "layernorm_full_attention_alpha", 1.0);
  c.residual_beta_full = hf_float(hf, "layernorm_full_attention_beta", 1.0);
  c.residual_alpha_mlp = hf_float(hf, "layernorm_mlp_alpha", 1.0);
  c.residual_beta_mlp = hf_float(hf, "layernorm_mlp_beta", 1.0);
  c.residual_from_norm = hf_bool(hf, "postnorm", false);
}

void add_lightning(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  const int64_t inner = c.n_heads * c.head_dim;
  out.push_back(hf_linear(p + "qkv_proj.weight", 3 * inner, c.hidden_size));
  out.push_back(hf_linear(p + "output_gate.weight", inner, c.hidden_size));
  out.push_back(hf_norm(p + "norm.weight", inner));
  out.push_back(hf_linear(p + "out_proj.weight", c.hidden_size, inner));
}

void plan_lightning(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t inner = c.n_heads * c.head_dim;
  out.push_back(plan_copy(g + "attn_qkv.weight", p + "qkv_proj.weight", {3 * inner, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_gate.weight", p + "output_gate.weight", {inner, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_norm_2.weight", p + "norm.weight", {inner}, false));
  out.push_back(plan_copy(g + "attn_output.weight", p + "out_proj.weight", {c.hidden_size, inner}));
}

}  // namespace

ArchSpec make_minimax01_arch() {
  ArchSpec spec;
  spec.arch = "minimax-01";
  spec.hf_architectures = {"MiniMaxText01ForCausalLM", "MiniMaxM1ForCausalLM"};
  spec.read_hf_config = read_hf;

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    const double alpha = c.residual_alpha_full;
    if (!c.residual_from_norm || c.residual_alpha_linear != alpha || c.residual_alpha_mlp != alpha ||
        c.residual_beta_linear != 1.0 || c.residual_beta_full != 1.0 || c.residual_beta_mlp != 1.0)
      fail("arch minimax-01: the GGUF holds one residual_scale (postnorm, equal alphas, betas 1), as llama.cpp's "
           "converter asserts; this config's residual scaling does not fit it");
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_f32(w, c.arch, "residual_scale", alpha);
    if (c.full_attention_interval != kDefaultInterval)
      gguf_set_u32(w, c.arch, "full_attention_interval", c.full_attention_interval);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    c.moe_intermediate_size = c.intermediate_size;
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";
    c.rope_interleaved = false;
    if (f.find(c.arch + ".attention.recurrent_layers"))
      fail("key {}.attention.recurrent_layers: an explicit layer pattern is not supported yet", c.arch);
    c.full_attention_interval = gguf_arch_int_opt(f, c.arch, "full_attention_interval").value_or(kDefaultInterval);
    c.linear_n_k_heads = c.linear_n_v_heads = c.n_heads;
    c.linear_k_head_dim = c.linear_v_head_dim = c.head_dim;
    c.linear_conv_kernel = 1;
    const std::optional<double> scale = gguf_arch_float_opt(f, c.arch, "residual_scale");
    if (!scale) fail("missing key {}.residual_scale", c.arch);
    c.residual_alpha_linear = c.residual_alpha_full = c.residual_alpha_mlp = *scale;
    c.residual_beta_linear = c.residual_beta_full = c.residual_beta_mlp = 1.0;
    c.residual_from_norm = true;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il), moe = p + "block_sparse_moe.";
      if (c.layer_is_recurrent(il)) {
        out.push_back(hf_norm(p + "input_layernorm.weight", c.hidden_size));
        add_lightning(out, c, p + "self_attn.");
        out.push_back(hf_norm(p + "post_attention_layernorm.weight", c.hidden_size));
      } else {
        add_attention(out, c, il, AttentionLayout{});
      }
      out.push_back(hf_router(moe + "gate.weight", c.n_experts, c.hidden_size));
      add_experts(out, c, moe + "experts.", c.n_experts, c.moe_intermediate_size, kExpertNames);
    }
    add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il), g = gguf_layer(il), moe = p + "block_sparse_moe.";
      if (c.layer_is_recurrent(il)) {
        out.push_back(plan_copy(g + "attn_norm.weight", p + "input_layernorm.weight", {c.hidden_size}, false));
        plan_lightning(out, c, il, p + "self_attn.");
        out.push_back(plan_copy(g + "ffn_norm.weight", p + "post_attention_layernorm.weight", {c.hidden_size}, false));
      } else {
        plan_attention(out, c, il, AttentionLayout{});
      }
      plan_router(out, c, il, moe + "gate.weight");
      plan_experts(out, c, il, moe + "experts.", c.n_experts, c.moe_intermediate_size, kExpertNames);
    }
    plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
