// Hunyuan-A13B (HunYuanMoEV1ForCausalLM), from the release's modeling_hunyuan.py:
//  - GQA attention (attention_head_dim 128), NeoX rope, QK-norm per head applied AFTER the rope
//    (self_attn.query_layernorm / key_layernorm); no biases;
//  - rope scaling "dynamic" with an NTK alpha: the base becomes theta * alpha^(d / (d - 2)),
//    independent of the sequence length. dragon folds it into rope_theta (scaling "none"), which
//    is exactly what the converter writes as rope.freq_base;
//  - every layer MoE (use_mixed_mlp_moe): a softmax router mlp.gate.wg, top moe_topk of
//    num_experts experts (moe_intermediate_size), renormalised, plus a shared SwiGLU
//    mlp.shared_mlp of width intermediate_size * num_shared_expert. moe_topk /
//    moe_intermediate_size / num_shared_expert are per-layer lists whose entries must be equal;
//  - cross-layer attention (use_cla) and MLA (use_mla) are off in the release and refused here.
// GGUF (conversion/hunyuan.py HunYuanMoEModel): expert_used_count / expert_shared_count /
// expert_feed_forward_length from the first list entries, expert_shared_feed_forward_length =
// intermediate_size (times num_shared_expert here, which is 1 in the release), rope.freq_base =
// the NTK-scaled base with rope.scaling.type "none", factor 1, and context_length =
// original_context_length = 256Ki ("the config is incorrectly set to 32k").
// llama.cpp builds the routed experts with feed_forward_length (n_ff), not
// expert_feed_forward_length, so a file only loads when intermediate_size ==
// moe_intermediate_size (3072 both in the release); dragon refuses other values.
// llama.cpp: src/models/hunyuan-moe.cpp.
#include <cmath>

#include "io/gguf.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

constexpr int64_t kHunyuanContext = 256 * 1024;

void add_hunyuan_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  arch::add_attention(out, c, il, arch::AttentionLayout{});
  const std::string a = arch::hf_layer(il) + "self_attn.";
  out.push_back(arch::hf_norm(a + "query_layernorm.weight", c.head_dim));
  out.push_back(arch::hf_norm(a + "key_layernorm.weight", c.head_dim));
}

void plan_hunyuan_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  arch::plan_attention(out, c, il, arch::AttentionLayout{});
  const std::string a = arch::hf_layer(il) + "self_attn.", g = arch::gguf_layer(il);
  out.push_back(arch::plan_copy(g + "attn_q_norm.weight", a + "query_layernorm.weight", {c.head_dim}, false));
  out.push_back(arch::plan_copy(g + "attn_k_norm.weight", a + "key_layernorm.weight", {c.head_dim}, false));
}

}  // namespace

ArchSpec make_hunyuan_moe_arch() {
  ArchSpec spec;
  spec.arch = "hunyuan-moe";
  spec.hf_architectures = {"HunYuanMoEV1ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    for (const char* key : {"num_experts", "moe_topk", "moe_intermediate_size"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    if (hf_bool(hf, "use_cla", false)) fail("key use_cla: cross-layer attention is not supported (nor by llama.cpp)");
    if (hf_bool(hf, "use_mla", false)) fail("key use_mla: MLA is not supported for hunyuan-moe (nor by llama.cpp)");
    if (!hf_bool(hf, "use_mixed_mlp_moe", true))
      fail("key use_mixed_mlp_moe: false is not supported (llama.cpp's hunyuan-moe requires the shared MLP)");
    if (hf_has(hf, "attention_head_dim")) {
      c.head_dim = hf_int(hf, "attention_head_dim", 0, 1, kMaxHeadDim);
      c.v_head_dim = c.head_dim;
      c.rotary_dim = c.head_dim;
    }
    c.qk_norm = hf_bool(hf, "use_qk_norm", true);
    if (!c.qk_norm) fail("key use_qk_norm: false is not supported (llama.cpp's hunyuan-moe requires the norms)");
    c.rope_interleaved = false;

    c.n_experts = hf_int(hf, "num_experts", 0, 1, kMaxExperts);
    c.n_experts_used = hf_uniform_int(hf, "moe_topk", std::nullopt, 1, kMaxExperts);
    c.moe_intermediate_size = hf_uniform_int(hf, "moe_intermediate_size", std::nullopt, 1, kMaxFFN);
    c.n_shared_experts = hf_uniform_int(hf, "num_shared_expert", 1, 1, kMaxExperts);
    c.shared_expert_intermediate_size = c.intermediate_size * c.n_shared_experts;
    if (c.intermediate_size != c.moe_intermediate_size)
      fail("keys intermediate_size ({}) and moe_intermediate_size ({}) differ: llama.cpp's hunyuan-moe sizes the "
           "experts by intermediate_size, so such a file would not load",
           c.intermediate_size, c.moe_intermediate_size);
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";

    // NTK-alpha "dynamic" scaling is a fixed change of base (HunYuanDynamicNTKAlphaRotaryEmbedding).
    if (c.rope_scaling.type == "dynamic") {
      const json& rs = hf.contains("rope_scaling") ? hf["rope_scaling"] : hf["rope_parameters"];
      const double alpha = hf_float(rs, "alpha", 1.0);
      if (alpha <= 0) fail("key rope_scaling.alpha: must be positive, got {}", alpha);
      const double d = static_cast<double>(c.head_dim);
      c.rope_theta *= std::pow(alpha, d / (d - 2.0));
      c.rope_scaling = RopeScaling{};
    }
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    const std::string& a = c.arch;
    write_common_gguf_metadata(c, w);
    write_expert_counts(c, w);
    gguf_set_u32(w, a, "expert_shared_feed_forward_length", c.shared_expert_intermediate_size);
    gguf_set_u32(w, a, "expert_feed_forward_length", c.moe_intermediate_size);
    gguf_set_u32(w, a, "expert_shared_count", c.n_shared_experts);
    w.set(a + ".rope.scaling.type", GGUFValue::str("none"));
    gguf_set_f32(w, a, "rope.scaling.factor", 1.0);
    gguf_set_u32(w, a, "rope.scaling.original_context_length", kHunyuanContext);
    gguf_set_u32(w, a, "context_length", kHunyuanContext);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    const std::string& a = c.arch;
    c.qk_norm = true;
    c.rope_interleaved = false;
    c.moe_intermediate_size = gguf_arch_int(f, a, "expert_feed_forward_length");
    c.n_shared_experts = gguf_arch_int_opt(f, a, "expert_shared_count").value_or(1);
    c.shared_expert_intermediate_size =
        gguf_arch_int_opt(f, a, "expert_shared_feed_forward_length").value_or(c.intermediate_size);
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";
    // Factor 1 with type "none" is no scaling at all.
    if (c.rope_scaling.type == "none") c.rope_scaling = RopeScaling{};
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string mlp = arch::hf_layer(il) + "mlp.";
      add_hunyuan_attention(out, c, il);
      out.push_back(arch::hf_router(mlp + "gate.wg.weight", c.n_experts, c.hidden_size));
      arch::add_dense_ffn(out, c, mlp + "shared_mlp.", c.shared_expert_intermediate_size);
      arch::add_experts(out, c, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string mlp = arch::hf_layer(il) + "mlp.";
      plan_hunyuan_attention(out, c, il);
      arch::plan_router(out, c, il, mlp + "gate.wg.weight");
      arch::plan_experts(out, c, il, mlp + "experts.", c.n_experts, c.moe_intermediate_size);
      arch::plan_dense_ffn(out, c, il, mlp + "shared_mlp.", c.shared_expert_intermediate_size, "_shexp");
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
