// Kimi-K3 (KimiK3ForConditionalGeneration; llama.cpp arch "kimi-k3"): Kimi Linear's KDA + MLA
// hybrid (arch_kimi.h) with what K3 adds, as llama.cpp's conversion/kimi_k3.py writes it:
//  - config.json nests the text model in text_config (flattened by config_from_hf) and its text
//    tensors live under "language_model." (the vision tower and projector are not run);
//  - KDA layers: one full-rank self_attn.g_proj [H d, hidden] (GGUF ssm_g) instead of g_a/g_b,
//    A_log a plain [H] (ssm_a = -exp(A_log) [H]), and linear_attn_config.gate_lower_bound
//    (kda.gate_lower_bound) switching the decay to lb * sigmoid(exp(A_log) (f + dt_bias));
//  - MLA layers: q compression (q_a_proj / q_a_layernorm / q_b_proj) and, with
//    mla_use_output_gate, self_attn.g_proj [H v, hidden] (GGUF attn_gate: the converter tells the
//    two g_proj apart by the layer type);
//  - latent MoE: block_sparse_moe.routed_expert_down_proj [latent, hidden] /
//    routed_expert_up_proj [hidden, latent] / routed_expert_norm [latent] (ffn_routed_down / _up /
//    _norm; expert_latent_length), the routed experts [latent]-wide;
//  - hidden_act "situ" with activation_situ_beta / activation_situ_linear_beta
//    (activation.situ_beta / situ_linear_beta);
//  - block attention residuals (attn_res_block_size -> attn_res.block_size): per layer
//    self_attention_res_norm / _proj and mlp_res_norm / _proj, and the model's
//    output_attn_res_norm / _proj; the converter keeps only each pair's product norm * proj
//    (blk.il.attn_res_score, blk.il.ffn_res_score, output_res_score), the scores' one use.
// GGUF attention.value_length is kv_lora_rank here (Kimi Linear's converter writes head_dim).
#include <fmt/format.h>

#include "io/gguf.h"
#include "models/arch_kimi.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace arch;

const std::string kTextPrefix = "language_model.";

void read_hf(const json& hf, ModelConfig& c) {
  kimi::read_mla(hf, c, /*allow_q_lora=*/true);
  kimi::read_moe(hf, c);
  kimi::read_linear_attn_config(hf, c, /*k3=*/true);
  if (!c.kda_full_rank_gate)
    fail("key linear_attn_config.use_full_rank_gate: only true is supported (llama.cpp's kimi-k3 loads ssm_g only)");
  c.mla_output_gate = hf_bool(hf, "mla_use_output_gate", false);
  c.expert_latent_size = hf_int(hf, "routed_expert_hidden_size", 0, 0, kMaxHidden);
  if (c.expert_latent_size > 0 && !hf_bool(hf, "latent_moe_use_norm", true))
    fail("key latent_moe_use_norm: only true is supported (the latent MoE's RMSNorm is always read)");
  const std::string act = hf_string(hf, "hidden_act", "situ");
  if (act != "situ") fail("key hidden_act: \"{}\", Kimi-K3 expects \"situ\"", act);
  for (const char* key : {"activation_situ_beta", "activation_situ_linear_beta", "attn_res_block_size"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  c.situ_beta = hf_float(hf, "activation_situ_beta", 0.0);
  c.situ_linear_beta = hf_float(hf, "activation_situ_linear_beta", 0.0);
  if (!(c.situ_beta > 0)) fail("key activation_situ_beta: {} (expected > 0)", c.situ_beta);
  c.attn_res_block_size = hf_int(hf, "attn_res_block_size", 0, 1, kMaxLayers);
}

void write_metadata(const ModelConfig& c, GGUFWriter& w) {
  const std::string& a = c.arch;
  kimi::write_metadata(c, w);
  gguf_set_u32(w, a, "attention.value_length", c.kv_lora_rank);
  if (c.kda_gate_lower_bound < 0) gguf_set_f32(w, a, "kda.gate_lower_bound", c.kda_gate_lower_bound);
  gguf_set_bool(w, a, "expert_weights_norm", c.norm_topk_prob);
  if (c.expert_latent_size > 0) gguf_set_u32(w, a, "expert_latent_length", c.expert_latent_size);
  gguf_set_f32(w, a, "activation.situ_beta", c.situ_beta);
  gguf_set_f32(w, a, "activation.situ_linear_beta", c.situ_linear_beta);
  gguf_set_u32(w, a, "attn_res.block_size", c.attn_res_block_size);
}

void read_metadata(const GGUFFile& f, ModelConfig& c) {
  const std::string& a = c.arch;
  kimi::read_metadata(f, c);
  c.kda_full_rank_gate = true;
  c.kda_gate_lower_bound = gguf_arch_float_opt(f, a, "kda.gate_lower_bound").value_or(0.0);
  c.norm_topk_prob = gguf_arch_bool_opt(f, a, "expert_weights_norm").value_or(false);
  if (!c.norm_topk_prob) fail("key {}.expert_weights_norm: only true is supported", a);
  c.expert_latent_size = gguf_arch_int_opt(f, a, "expert_latent_length").value_or(0);
  c.attn_res_block_size = gguf_arch_int(f, a, "attn_res.block_size");
  const auto beta = gguf_arch_float_opt(f, a, "activation.situ_beta");
  const auto linear_beta = gguf_arch_float_opt(f, a, "activation.situ_linear_beta");
  if (!beta || !linear_beta) fail("keys {}.activation.situ_beta / situ_linear_beta: missing", a);
  c.situ_beta = *beta;
  c.situ_linear_beta = *linear_beta;
  // The MLA output gate is optional in llama.cpp's loader: present iff the first MLA layer has it.
  for (int64_t il = 0; il < c.n_layers; ++il)
    if (!c.layer_is_recurrent(il)) {
      c.mla_output_gate = f.find_tensor(fmt::format("blk.{}.attn_gate.weight", il)) != nullptr;
      break;
    }
}

// HF "<p>_res_norm.weight" [hidden] and "<p>_res_proj.weight" [1, hidden].
void add_res_score(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  out.push_back(hf_norm(p + "_res_norm.weight", c.hidden_size));
  out.push_back(hf_linear(p + "_res_proj.weight", 1, c.hidden_size));
}

// Their GGUF product norm * proj [hidden], as the converter fuses them.
GGUFTensorPlan plan_res_score(const std::string& gguf_name, const ModelConfig& c, const std::string& p) {
  GGUFTensorPlan plan;
  plan.name = gguf_name;
  plan.shape = {c.hidden_size};
  plan.sources = {p + "_res_norm.weight", p + "_res_proj.weight"};
  plan.quantizable = false;
  plan.transform = [](const std::vector<const std::vector<float>*>& src) {
    std::vector<float> out = *src.at(0);
    const std::vector<float>& proj = *src.at(1);
    for (size_t i = 0; i < out.size(); ++i) out[i] *= proj.at(i);
    return out;
  };
  return plan;
}

}  // namespace

ArchSpec make_kimi_k3_arch() {
  ArchSpec spec;
  spec.arch = "kimi-k3";
  spec.hf_architectures = {"KimiK3ForConditionalGeneration"};
  spec.read_hf_config = read_hf;
  spec.write_gguf_metadata = write_metadata;
  spec.read_gguf_metadata = read_metadata;
  spec.hf_ignored_prefixes = {"vision_tower.", "mm_projector."};

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il);
      out.push_back(hf_norm(p + "input_layernorm.weight", c.hidden_size));
      add_res_score(out, c, p + "self_attention");
      add_res_score(out, c, p + "mlp");
      if (c.layer_is_recurrent(il))
        kimi::add_kda(out, c, p + "self_attn.");
      else
        kimi::add_mla(out, c, p + "self_attn.");
      out.push_back(hf_norm(p + "post_attention_layernorm.weight", c.hidden_size));
      kimi::add_ffn(out, c, il, p);
    }
    add_res_score(out, c, "model.output_attn");
    add_output(out, c);
    for (HFTensorSpec& t : out) t.name = kTextPrefix + t.name;
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = hf_layer(il), g = gguf_layer(il);
      out.push_back(plan_copy(g + "attn_norm.weight", p + "input_layernorm.weight", {c.hidden_size}, false));
      out.push_back(plan_res_score(g + "attn_res_score.weight", c, p + "self_attention"));
      out.push_back(plan_res_score(g + "ffn_res_score.weight", c, p + "mlp"));
      if (c.layer_is_recurrent(il))
        kimi::plan_kda(out, c, il, p + "self_attn.");
      else
        kimi::plan_mla(out, c, il, p + "self_attn.");
      out.push_back(plan_copy(g + "ffn_norm.weight", p + "post_attention_layernorm.weight", {c.hidden_size}, false));
      kimi::plan_ffn(out, c, il, p);
    }
    out.push_back(plan_res_score("output_res_score.weight", c, "model.output_attn"));
    plan_output(out, c);
    for (GGUFTensorPlan& plan : out)
      for (std::string& s : plan.sources) s = kTextPrefix + s;
    return out;
  };
  return spec;
}

}  // namespace dragon
