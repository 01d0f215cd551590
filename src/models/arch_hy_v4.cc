// Tencent Hy4 (HYV4ForCausalLM, model_type hy_v4; llama.cpp arch hy_v4): DeepSeek-V3's MLA +
// DeepSeekMoE (arch_deepseek2.h: the same config keys, attention tensors and GGUF metadata) plus
//  - independent hyper-connections (iHC): hc_mult residual streams; before each sublayer
//    hc_{attn,mlp}_layer.hc_pre.{hc_fn [2*hc, hc*hidden], hc_base [2*hc], hc_scale [2]} make the
//    pre-reduce and post-distribute gates, and model.hc_head.{hc_head_fn [hc, hc*hidden],
//    hc_head_base [hc], hc_head_scale [1]} collapse the streams before the final norm;
//  - gated MLA: self_attn.linear_gate [H*v, hidden], sigmoid gate on the attention output before
//    o_proj; self_attn.learnable_sink_param [H], one sink logit per head in the softmax;
//  - the routed experts' SwiGLU clamped at swiglu_limit (GGUF swiglu_clamp_exp).
// The HF tensor names of the hy-v4 parts are those gguf-py's tensor_mapping.py lists for hy-v4; the
// converter of this llama.cpp release has no HYV4 model class, so the config keys read here
// (DeepSeek-V3's, plus hc_mult / hc_eps / hc_magnitude / swiglu_limit) are dragon's reading of the
// transformers docs, not of a converter. DSA (index_topk, indexer_types) is not supported yet: a
// config that asks for it is refused. The MTP layers are dropped, like DeepSeek-V3's.
// llama.cpp: src/models/hy-v4.cpp.
#include "io/gguf.h"
#include "models/arch_deepseek2.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

HFTensorSpec hf_small(std::string name, std::vector<int64_t> shape, Init init, double std) {
  HFTensorSpec s;
  s.name = std::move(name);
  s.shape = std::move(shape);
  s.init = init;
  s.std = std;
  s.quantizable = false;
  return s;
}

// One hc_pre (gates of n_gates * hc mixes from the flattened streams), HF side.
void add_hc(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p, const std::string& tag,
            int64_t n_gates) {
  const int64_t hc = c.hc_mult, width = hc * c.hidden_size;
  // hc_fn rows ~ 1/sqrt(width) keep the mixes O(1); base and scale spread the sigmoid gates.
  out.push_back(hf_small(p + tag + "fn", {n_gates * hc, width}, Init::Normal, arch::std_for_fan_in(width)));
  out.push_back(hf_small(p + tag + "base", {n_gates * hc}, Init::Normal, 0.5));
  out.push_back(hf_small(p + tag + "scale", {n_gates}, Init::Normal, 1.0));
}

void plan_hc(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, const std::string& g, const std::string& h,
             int64_t n_gates) {
  const int64_t hc = c.hc_mult;
  out.push_back(arch::plan_copy(g + "fn.weight", h + "fn", {n_gates * hc, hc * c.hidden_size}, false));
  out.push_back(arch::plan_copy(g + "base.weight", h + "base", {n_gates * hc}, false));
  out.push_back(arch::plan_copy(g + "scale.weight", h + "scale", {n_gates}, false));
}

void add_layer(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  const std::string p = arch::hf_layer(il), a = p + "self_attn.";
  deepseek2_arch::add_mla_attention(out, c, il);
  out.push_back(arch::hf_linear(a + "linear_gate.weight", c.n_heads * c.v_head_dim, c.hidden_size));
  out.push_back(hf_small(a + "learnable_sink_param", {c.n_heads}, Init::Normal, 1.0));
  add_hc(out, c, p, "hc_attn_layer.hc_pre.hc_", 2);
  add_hc(out, c, p, "hc_mlp_layer.hc_pre.hc_", 2);
  arch::add_deepseek_moe_ffn(out, c, il);
}

// In llama.cpp's load order (hy-v4.cpp load_arch_tensors).
void plan_layer(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  const std::string h = arch::hf_layer(il), a = h + "self_attn.", g = arch::gguf_layer(il);
  deepseek2_arch::plan_mla_attention(out, c, il);
  out.push_back(arch::plan_copy(g + "attn_sinks.weight", a + "learnable_sink_param", {c.n_heads}, false));
  out.push_back(arch::plan_copy(g + "attn_gate.weight", a + "linear_gate.weight",
                                {c.n_heads * c.v_head_dim, c.hidden_size}));
  plan_hc(out, c, g + "hc_attn_", h + "hc_attn_layer.hc_pre.hc_", 2);
  plan_hc(out, c, g + "hc_ffn_", h + "hc_mlp_layer.hc_pre.hc_", 2);
  arch::plan_deepseek_moe_ffn(out, c, il);
}

}  // namespace

ArchSpec make_hy_v4_arch() {
  ArchSpec spec;
  spec.arch = "hy_v4";
  spec.hf_architectures = {"HYV4ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    deepseek2_arch::read_mla_keys(hf, c);
    deepseek2_arch::read_moe_keys(hf, c);
    if (hf_int(hf, "index_topk", 0, 0, int64_t{1} << 24) > 0)
      fail("key index_topk: DeepSeek sparse attention (DSA) is not supported for hy_v4 yet (dense checkpoints only)");
    if (c.n_shared_experts < 1) fail("key n_shared_experts: hy_v4 needs a shared expert (llama.cpp's hy_v4 loads one)");
    c.hc_mult = hf_int(hf, "hc_mult", 0, 1, 64);
    c.hc_eps = hf_float(hf, "hc_eps", 1e-6);
    c.hc_magnitude = hf_float(hf, "hc_magnitude", 1.0);
    c.swiglu_limit = hf_float(hf, "swiglu_limit", 0.0);
    c.attention_sinks = true;
    c.attention_output_gate = true;
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    const std::string& a = c.arch;
    deepseek2_arch::write_metadata(c, w);
    gguf_set_u32(w, a, "hyper_connection.count", c.hc_mult);
    gguf_set_f32(w, a, "hyper_connection.epsilon", c.hc_eps);
    gguf_set_f32(w, a, "hyper_connection.magnitude", c.hc_magnitude);
    if (c.swiglu_limit > 0.0) gguf_set_f32(w, a, "swiglu_clamp_exp", c.swiglu_limit);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    const std::string& a = c.arch;
    deepseek2_arch::read_metadata(f, c);
    if (gguf_arch_int_opt(f, a, "attention.indexer.top_k").value_or(0) > 0)
      fail("key {}.attention.indexer.top_k: DeepSeek sparse attention (DSA) is not supported for hy_v4 yet", a);
    c.hc_mult = gguf_arch_int(f, a, "hyper_connection.count");
    c.hc_eps = gguf_arch_float_opt(f, a, "hyper_connection.epsilon").value_or(1e-6);
    c.hc_magnitude = gguf_arch_float_opt(f, a, "hyper_connection.magnitude").value_or(1.0);
    // A scalar here; llama.cpp also accepts one value per layer, which dragon does not read yet.
    c.swiglu_limit = gguf_arch_float_opt(f, a, "swiglu_clamp_exp").value_or(0.0);
    c.attention_sinks = true;
    c.attention_output_gate = true;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) add_layer(out, c, il);
    add_hc(out, c, "model.hc_head.", "hc_head_", 1);
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    plan_hc(out, c, "output_hc_", "model.hc_head.hc_head_", 1);
    for (int64_t il = 0; il < c.n_layers; ++il) plan_layer(out, c, il);
    arch::plan_output(out, c);
    return out;
  };
  // The MTP block(s) a release appends (model.layers.{n_layers + i}) are not run.
  return spec;
}

}  // namespace dragon
