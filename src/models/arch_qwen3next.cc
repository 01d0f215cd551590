// Qwen3-Next (Qwen3NextForCausalLM: Qwen3-Next-80B-A3B), from transformers' modeling_qwen3_next.py:
//  - layers alternate (full_attention_interval - 1) Gated DeltaNet layers (linear_attn.*) with one
//    gated full-attention layer (self_attn.*): layer il is full attention when
//    (il + 1) % full_attention_interval == 0;
//  - the gated attention's q_proj is twice as wide: per head [query | output gate];
//    QK-norm per head, NeoX rope on the first partial_rotary_factor of each head;
//  - every norm except the DeltaNet's gated output norm is zero-centred: y = x_hat * (1 + w).
//    llama.cpp's converter adds the 1 into the GGUF weight, and so do the plans below;
//  - every FFN is a softmax-routed MoE (top-k renormalised) plus one shared SwiGLU expert scaled
//    by sigmoid(shared_expert_gate . x).
// The DeltaNet's fused in_proj_qkvz holds per k head [q | k | v (r heads) | z (r heads)], r =
// n_v / n_k; the converter regroups it into attn_qkv (all q, all k, all v: the conv1d channel
// order) and attn_gate (z); A_log becomes ssm_a = -exp(A_log), dt_bias ssm_dt.bias, the conv1d
// [channels, 1, K] loses its middle axis.
// llama.cpp: src/models/qwen3next.cpp; converter: conversion/qwen.py Qwen3NextModel.
#include <cmath>

#include "io/gguf.h"
#include "models/arch_hybrid.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace arch;

// Rows of in_proj_qkvz [n_k * (2 dk + 2 r dv), hidden] picked into attn_qkv (want_z = false:
// every head's q, then every head's k, then every head's v) or attn_gate (want_z = true).
std::vector<float> regroup_qkvz(const std::vector<float>& src, const ModelConfig& c, bool want_z) {
  const int64_t nk = c.linear_n_k_heads, dk = c.linear_k_head_dim;
  const int64_t rv = (c.linear_n_v_heads / nk) * c.linear_v_head_dim;  // v (or z) rows per k head
  const int64_t group = 2 * dk + 2 * rv, hidden = c.hidden_size;
  if (static_cast<int64_t>(src.size()) != nk * group * hidden)
    fail("in_proj_qkvz: {} values, expected {} x {}", src.size(), nk * group, hidden);
  std::vector<float> out;
  auto take = [&](int64_t head, int64_t first_row, int64_t rows) {
    const float* p = src.data() + (head * group + first_row) * hidden;
    out.insert(out.end(), p, p + rows * hidden);
  };
  if (want_z) {
    for (int64_t h = 0; h < nk; ++h) take(h, 2 * dk + rv, rv);
  } else {
    for (int64_t h = 0; h < nk; ++h) take(h, 0, dk);
    for (int64_t h = 0; h < nk; ++h) take(h, dk, dk);
    for (int64_t h = 0; h < nk; ++h) take(h, 2 * dk, rv);
  }
  return out;
}

void add_linear_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  const int64_t key_dim = c.linear_n_k_heads * c.linear_k_head_dim;
  const int64_t value_dim = c.linear_n_v_heads * c.linear_v_head_dim;
  out.push_back(hf_linear(p + "in_proj_qkvz.weight", 2 * key_dim + 2 * value_dim, c.hidden_size));
  out.push_back(hf_linear(p + "in_proj_ba.weight", 2 * c.linear_n_v_heads, c.hidden_size, false));
  // Depthwise conv taps: std 1/sqrt(K) keeps the mixed channels O(1).
  out.push_back(HFTensorSpec{p + "conv1d.weight", {c.linear_conv_channels(), 1, c.linear_conv_kernel}, Init::Normal,
                             std_for_fan_in(c.linear_conv_kernel), false});
  // dt_bias and A_log near 0: decay exp(-exp(A_log) softplus(a + dt_bias)) ~ 0.5 per token, so
  // the state remembers a few tokens back (the release's A in [1, 16] forgets within a token or
  // two, which would hide a state that is not carried over).
  out.push_back(HFTensorSpec{p + "dt_bias", {c.linear_n_v_heads}, Init::Bias, 0.5, false});
  out.push_back(HFTensorSpec{p + "A_log", {c.linear_n_v_heads}, Init::Bias, 0.5, false});
  out.push_back(hf_norm(p + "norm.weight", c.linear_v_head_dim));  // plain weight (init ones in HF)
  out.push_back(hf_linear(p + "out_proj.weight", c.hidden_size, value_dim));
}

void plan_linear_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il,
                           const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t key_dim = c.linear_n_k_heads * c.linear_k_head_dim;
  const int64_t value_dim = c.linear_n_v_heads * c.linear_v_head_dim;
  const int64_t nv = c.linear_n_v_heads;
  for (const bool z : {false, true}) {
    GGUFTensorPlan plan = plan_copy(g + (z ? "attn_gate.weight" : "attn_qkv.weight"), p + "in_proj_qkvz.weight",
                                    {z ? value_dim : 2 * key_dim + value_dim, c.hidden_size});
    const ModelConfig cc = c;
    plan.transform = [cc, z](const std::vector<const std::vector<float>*>& src) {
      return regroup_qkvz(*src.at(0), cc, z);
    };
    out.push_back(std::move(plan));
  }
  out.push_back(plan_copy(g + "ssm_conv1d.weight", p + "conv1d.weight", {c.linear_conv_channels(), c.linear_conv_kernel},
                          false));
  out.push_back(plan_copy(g + "ssm_dt.bias", p + "dt_bias", {nv}, false));
  GGUFTensorPlan a = plan_copy(g + "ssm_a", p + "A_log", {nv}, false);
  a.transform = [](const std::vector<const std::vector<float>*>& src) {
    std::vector<float> out = *src.at(0);
    for (float& v : out) v = -std::exp(v);
    return out;
  };
  out.push_back(std::move(a));
  out.push_back(plan_copy(g + "ssm_ba.weight", p + "in_proj_ba.weight", {2 * nv, c.hidden_size}, false));
  out.push_back(plan_copy(g + "ssm_norm.weight", p + "norm.weight", {c.linear_v_head_dim}, false));
  out.push_back(plan_copy(g + "ssm_out.weight", p + "out_proj.weight", {c.hidden_size, value_dim}));
}

void read_hf(const json& hf, ModelConfig& c) {
  c.qk_norm = true;
  if (c.attention_bias) fail("key attention_bias: true is not supported (llama.cpp's qwen3next has no biases)");
  for (const char* key : {"num_experts", "num_experts_per_tok", "moe_intermediate_size"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  c.n_experts = hf_int(hf, "num_experts", 0, 1, kMaxExperts);
  c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
  c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
  c.shared_expert_intermediate_size = hf_int(hf, "shared_expert_intermediate_size", 0, 0, kMaxFFN);
  c.n_shared_experts = c.shared_expert_intermediate_size > 0 ? 1 : 0;
  c.norm_topk_prob = hf_bool(hf, "norm_topk_prob", true);
  if (!c.norm_topk_prob) fail("key norm_topk_prob: false is not supported (llama.cpp's qwen3next renormalises)");
  c.scoring_func = "softmax";
  if (hf_int(hf, "decoder_sparse_step", 1, 1, kMaxLayers) != 1)
    fail("key decoder_sparse_step: only 1 is supported (llama.cpp's qwen3next has no dense layers)");
  if (hf_has(hf, "mlp_only_layers") && !hf["mlp_only_layers"].empty())
    fail("key mlp_only_layers: dense layers are not supported (llama.cpp's qwen3next has none)");

  read_linear_attention_hf(hf, c);
}

}  // namespace

ArchSpec make_qwen3next_arch() {
  ArchSpec spec;
  spec.arch = "qwen3next";
  spec.hf_architectures = {"Qwen3NextForCausalLM"};
  spec.read_hf_config = read_hf;

  // Qwen2MoeModel.set_gguf_parameters (common keys, expert lengths) + Qwen3NextModel's ssm.* keys.
  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_u32(w, c.arch, "expert_feed_forward_length", c.moe_intermediate_size);
    if (c.shared_expert_intermediate_size > 0)
      gguf_set_u32(w, c.arch, "expert_shared_feed_forward_length", c.shared_expert_intermediate_size);
    write_linear_attention_gguf(c, w);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    c.qk_norm = true;
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";
    c.moe_intermediate_size = gguf_arch_int(f, c.arch, "expert_feed_forward_length");
    c.shared_expert_intermediate_size = gguf_arch_int_opt(f, c.arch, "expert_shared_feed_forward_length").value_or(0);
    c.n_shared_experts = c.shared_expert_intermediate_size > 0 ? 1 : 0;
    read_linear_attention_gguf(f, c);
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il);
      out.push_back(hf_centred_norm(p + "input_layernorm.weight", c.hidden_size));
      if (c.layer_is_recurrent(il))
        add_linear_attention(out, c, p + "linear_attn.");
      else
        add_gated_attention(out, c, p + "self_attn.");
      out.push_back(hf_centred_norm(p + "post_attention_layernorm.weight", c.hidden_size));
      out.push_back(hf_router(p + "mlp.gate.weight", c.n_experts, c.hidden_size));
      add_experts(out, c, p + "mlp.experts.", c.n_experts, c.moe_intermediate_size);
      if (c.shared_expert_intermediate_size > 0) {
        add_dense_ffn(out, c, p + "mlp.shared_expert.", c.shared_expert_intermediate_size);
        out.push_back(hf_linear(p + "mlp.shared_expert_gate.weight", 1, c.hidden_size, false));
      }
    }
    out.push_back(hf_centred_norm("model.norm.weight", c.hidden_size));
    if (!c.tie_word_embeddings)
      out.push_back(HFTensorSpec{"lm_head.weight", {c.vocab_size, c.hidden_size}, Init::Normal, lm_head_std(c), true});
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il), g = gguf_layer(il);
      out.push_back(plan_centred_norm(g + "attn_norm.weight", p + "input_layernorm.weight", c.hidden_size));
      if (c.layer_is_recurrent(il))
        plan_linear_attention(out, c, il, p + "linear_attn.");
      else
        plan_gated_attention(out, c, il, p + "self_attn.");
      out.push_back(plan_centred_norm(g + "post_attention_norm.weight", p + "post_attention_layernorm.weight",
                                      c.hidden_size));
      plan_router(out, c, il, p + "mlp.gate.weight");
      plan_experts(out, c, il, p + "mlp.experts.", c.n_experts, c.moe_intermediate_size);
      if (c.shared_expert_intermediate_size > 0) {
        plan_dense_ffn(out, c, il, p + "mlp.shared_expert.", c.shared_expert_intermediate_size, "_shexp");
        out.push_back(plan_copy(g + "ffn_gate_inp_shexp.weight", p + "mlp.shared_expert_gate.weight",
                                {c.hidden_size}, false));
      }
    }
    out.push_back(plan_centred_norm("output_norm.weight", "model.norm.weight", c.hidden_size));
    if (!c.tie_word_embeddings)
      out.push_back(plan_copy("output.weight", "lm_head.weight", {c.vocab_size, c.hidden_size}));
    return out;
  };
  return spec;
}

}  // namespace dragon
