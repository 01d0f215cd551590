// Tencent Hy3 (HYV3ForCausalLM, model_type hy_v3), from transformers' modeling_hy_v3.py:
//  - GQA attention without biases, per-head q_norm / k_norm (RMSNorm over head_dim) BEFORE the
//    rope, NeoX rope over the whole head (llama.cpp's hy_v3 uses LLAMA_ROPE_TYPE_NEOX);
//  - first_k_dense_replace dense SwiGLU layers (intermediate_size), then MoE: a sigmoid router
//    mlp.gate [num_experts, hidden] in F32, an expert-selection bias mlp.expert_bias (choice only),
//    top num_experts_per_tok renormalised (route_norm) times router_scaling_factor, plus an
//    always-on shared SwiGLU mlp.shared_mlp of moe_intermediate_size * num_shared_experts with no
//    gate (routed + shared);
//  - num_nextn_predict_layers MTP blocks as model.layers.{n_layers + i}: a full decoder layer plus
//    enorm / hnorm / eh_proj / final_layernorm (no embed_tokens, no head: it shares the trunk's).
// The checkpoint names (mlp.gate, mlp.expert_bias, mlp.shared_mlp, mlp.experts.E.*) are those
// vLLM's / SGLang's hy_v3 loaders and llama.cpp's converter read.
// GGUF (conversion/hunyuan.py HYV3Model): block_count = n_layers + nextn layers (MTP kept, as
// GLM-4.5), expert_feed_forward_length, expert_shared_feed_forward_length, expert_weights_norm
// (route_norm), expert_weights_scale (router_scaling_factor), expert_gating_func sigmoid,
// nextn_predict_layers. No leading_dense_block_count: llama.cpp tells a dense layer by its missing
// ffn_gate_inp, so dragon counts the leading layers without one. The selection bias maps through
// the afmoe entry "mlp.expert_bias" with no suffix, so it is blk.N.exp_probs_b (not .bias, which
// llama.cpp's hy_v3 would not find), and the MTP block's final_layernorm is
// blk.N.nextn.shared_head_norm.
// llama.cpp: src/models/hy-v3.cpp.
#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

constexpr arch::AttentionLayout kHy3Attention{false, false, true};  // q_norm / k_norm, no biases

void add_hy3_ffn(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  const std::string mlp = arch::hf_layer(il) + "mlp.";
  if (!c.layer_is_moe(il)) {
    arch::add_dense_ffn(out, c, mlp, c.intermediate_size);
    return;
  }
  out.push_back(arch::hf_router(mlp + "gate.weight", c.n_experts, c.hidden_size));
  out.push_back(arch::hf_expert_bias(mlp + "expert_bias", {c.n_experts}, arch::kSigmoidScoreBiasStd));
  arch::add_experts(out, c, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
  arch::add_dense_ffn(out, c, mlp + "shared_mlp.", c.shared_expert_intermediate_size);
}

void plan_hy3_ffn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  const std::string mlp = arch::hf_layer(il) + "mlp.";
  if (!c.layer_is_moe(il)) {
    arch::plan_dense_ffn(out, c, il, mlp, c.intermediate_size);
    return;
  }
  arch::plan_router(out, c, il, mlp + "gate.weight");
  out.push_back(arch::plan_copy(arch::gguf_layer(il) + "exp_probs_b", mlp + "expert_bias", {c.n_experts}, false));
  arch::plan_experts(out, c, il, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
  arch::plan_dense_ffn(out, c, il, mlp + "shared_mlp.", c.shared_expert_intermediate_size, "_shexp");
}

// The MTP block's extras: eh_proj [hidden, 2*hidden] over concat(enorm(embed), hnorm(h)), and the
// final_layernorm applied before the shared head.
void add_hy3_nextn(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  const std::string p = arch::hf_layer(il);
  out.push_back(arch::hf_norm(p + "enorm.weight", c.hidden_size));
  out.push_back(arch::hf_norm(p + "hnorm.weight", c.hidden_size));
  out.push_back(arch::hf_linear(p + "eh_proj.weight", c.hidden_size, 2 * c.hidden_size));
  out.push_back(arch::hf_norm(p + "final_layernorm.weight", c.hidden_size));
}

void plan_hy3_nextn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  const std::string h = arch::hf_layer(il), g = arch::gguf_layer(il) + "nextn.";
  out.push_back(arch::plan_copy(g + "eh_proj.weight", h + "eh_proj.weight", {c.hidden_size, 2 * c.hidden_size}));
  out.push_back(arch::plan_copy(g + "enorm.weight", h + "enorm.weight", {c.hidden_size}, false));
  out.push_back(arch::plan_copy(g + "hnorm.weight", h + "hnorm.weight", {c.hidden_size}, false));
  out.push_back(arch::plan_copy(g + "shared_head_norm.weight", h + "final_layernorm.weight", {c.hidden_size}, false));
}

// transformers' newer configs spell the layout as mlp_layer_types ("dense" / "sparse"); dragon
// (like llama.cpp) supports the leading-dense layout only.
int64_t dense_prefix_from_layer_types(const nlohmann::json& types, int64_t n_layers) {
  if (!types.is_array() || static_cast<int64_t>(types.size()) < n_layers)
    fail("key mlp_layer_types: expected a list of at least num_hidden_layers ({}) entries", n_layers);
  int64_t k = 0;
  while (k < n_layers && types[k] == "dense") ++k;
  for (int64_t il = k; il < n_layers; ++il)
    if (types[il] != "sparse")
      fail("key mlp_layer_types[{}]: expected \"sparse\" after the leading dense layers, got {}", il,
           types[il].dump());
  return k;
}

}  // namespace

ArchSpec make_hy_v3_arch() {
  ArchSpec spec;
  spec.arch = "hy_v3";
  spec.hf_architectures = {"HYV3ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    for (const char* key : {"num_experts", "num_experts_per_tok", "moe_intermediate_size"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    if (c.attention_bias) fail("key attention_bias: true is not supported (Hy3 and llama.cpp's hy_v3 have no biases)");
    if (!hf_bool(hf, "qk_norm", true))
      fail("key qk_norm: false is not supported (HYV3Attention always has q_norm / k_norm)");
    c.qk_norm = true;
    c.attention_out_bias = false;
    c.rope_interleaved = false;

    c.n_experts = hf_int(hf, "num_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
    c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
    c.n_shared_experts = hf_int(hf, "num_shared_experts", 1, 1, kMaxExperts);
    c.shared_expert_intermediate_size = c.moe_intermediate_size * c.n_shared_experts;
    c.first_k_dense_replace = hf_has(hf, "mlp_layer_types")
                                  ? dense_prefix_from_layer_types(hf["mlp_layer_types"], c.n_layers)
                                  : hf_int(hf, "first_k_dense_replace", 1, 0, kMaxLayers);
    // HYV3TopKRouter renormalises unconditionally; the release sets route_norm true and the serving
    // stacks and llama.cpp follow route_norm, so dragon does too.
    c.norm_topk_prob = hf_bool(hf, "route_norm", true);
    c.routed_scaling_factor = hf_float(hf, "router_scaling_factor", 1.0);
    c.scoring_func = "sigmoid";
    c.expert_score_bias = true;
    c.n_nextn_layers = hf_int(hf, "num_nextn_predict_layers", 0, 0, kMaxLayers);
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    const std::string& a = c.arch;
    write_common_gguf_metadata(c, w);
    gguf_set_u32(w, a, "block_count", c.n_layers + c.n_nextn_layers);  // the MTP layers are kept
    write_expert_counts(c, w);
    gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
    gguf_set_u32(w, a, "expert_shared_feed_forward_length", c.shared_expert_intermediate_size);
    gguf_set_bool(w, a, "expert_weights_norm", c.norm_topk_prob);
    gguf_set_f32(w, a, "expert_weights_scale", c.routed_scaling_factor);
    gguf_set_u32(w, a, "expert_gating_func", kGatingSigmoid);
    if (c.n_nextn_layers > 0) gguf_set_u32(w, a, "nextn_predict_layers", c.n_nextn_layers);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    const std::string& a = c.arch;
    c.n_nextn_layers = gguf_arch_int_opt(f, a, "nextn_predict_layers").value_or(0);
    if (c.n_nextn_layers >= c.n_layers)
      fail("key {}.nextn_predict_layers: {} is not less than block_count {}", a, c.n_nextn_layers, c.n_layers);
    c.n_layers -= c.n_nextn_layers;
    c.qk_norm = true;
    c.attention_out_bias = false;
    c.rope_interleaved = false;
    c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
    c.shared_expert_intermediate_size =
        gguf_arch_int_opt(f, a, "expert_shared_feed_forward_length").value_or(c.moe_intermediate_size);
    c.n_shared_experts = 1;  // fused: one shared expert of shared_expert_intermediate_size
    c.norm_topk_prob = gguf_arch_bool_opt(f, a, "expert_weights_norm").value_or(false);
    c.routed_scaling_factor = gguf_arch_float_opt(f, a, "expert_weights_scale").value_or(1.0);
    c.scoring_func = scoring_func_name(gguf_arch_int_opt(f, a, "expert_gating_func").value_or(kGatingSigmoid));
    c.expert_score_bias = true;
    // The dense layers are the leading ones without a router (how llama.cpp tells them apart).
    int64_t k = 0;
    while (k < c.n_layers && f.find_tensor("blk." + std::to_string(k) + ".ffn_gate_inp.weight") == nullptr) ++k;
    for (int64_t il = k; il < c.n_layers; ++il)
      if (f.find_tensor("blk." + std::to_string(il) + ".ffn_gate_inp.weight") == nullptr)
        fail("tensor blk.{}.ffn_gate_inp.weight: missing, but layer {} is a MoE layer (dense layers must lead)", il,
             k);
    c.first_k_dense_replace = k;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      arch::add_attention(out, c, il, kHy3Attention);
      add_hy3_ffn(out, c, il);
      if (il >= c.n_layers) add_hy3_nextn(out, c, il);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      arch::plan_attention(out, c, il, kHy3Attention);
      plan_hy3_ffn(out, c, il);
      if (il >= c.n_layers) plan_hy3_nextn(out, c, il);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
