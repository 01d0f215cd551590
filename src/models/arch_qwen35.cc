// Qwen3.5 (Qwen3_5ForConditionalGeneration: Qwen3.5-0.8B ... 27B, llama.cpp arch qwen35) and
// Qwen3.5-MoE (Qwen3_5MoeForConditionalGeneration: Qwen3.5-35B-A3B, -122B-A10B, -397B-A17B; arch
// qwen35moe), from transformers' modeling_qwen3_5*.py. The text model is Qwen3-Next's
// (arch_qwen3next.cc: 3 Gated DeltaNet layers then 1 gated attention layer, zero-centred norms)
// with these differences:
//  - the checkpoints are multimodal: config.json nests the text model's keys in text_config and
//    the text tensors live under model.language_model. (a text-only Qwen3_5*ForCausalLM has them
//    under model.); the vision tower (model.visual.*) and the MTP block (mtp.*) are not read here;
//  - the DeltaNet projections are separate: in_proj_qkv (all q, all k, all v: already the conv
//    channel order), in_proj_z, in_proj_b and in_proj_a (one row per v head) instead of the fused
//    per-k-head in_proj_qkvz / in_proj_ba;
//  - the dense variant has a plain SwiGLU MLP in every layer; the MoE variant stores its experts
//    fused (transformers 5): mlp.experts.gate_up_proj [n_experts, 2 ff, hidden] and
//    mlp.experts.down_proj [n_experts, hidden, ff];
//  - rope is interleaved M-RoPE (mrope_section [11, 11, 10] over the 64 rotary dims); for text
//    every section sees the same position, which is ordinary NeoX rope on the rotary dims.
// llama.cpp's converter (conversion/qwen.py _LinearAttentionVReorderBase) also REORDERS the v
// heads when n_v > n_k: HF groups them by k head (v head g*r + j uses k head g), ggml broadcasts
// tiled (v head j*n_k + g uses k head g), so every per-v-head row / column / channel moves from
// g*r + j to j*n_k + g. The GGUF plans below do the same, and models/qwen35.cc reads the tiled order.
#include <cmath>

#include "io/gguf.h"
#include "models/arch_hybrid.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

using namespace arch;

// "model.language_model." for the multimodal checkpoints, "model." for a text-only ForCausalLM.
std::string text_prefix(const ModelConfig& c) {
  return c.hf_architecture.ends_with("ForCausalLM") ? "model." : "model.language_model.";
}
std::string layer_prefix(const ModelConfig& c, int64_t il) { return text_prefix(c) + "layers." + std::to_string(il) + "."; }

// The converter's _reorder_v_heads: along an axis of n_v blocks of `block` (rows of a row-major
// [n_v * block, cols] matrix when cols > 1, or the innermost axis split into n_v blocks of `block`
// when `columns`), block g*r + j moves to j*n_k + g.
std::vector<float> tile_v_rows(const std::vector<float>& src, const ModelConfig& c, int64_t block, int64_t cols) {
  const int64_t nk = c.linear_n_k_heads, r = c.linear_n_v_heads / nk;
  std::vector<float> out(src.size());
  const int64_t chunk = block * cols;
  if (static_cast<int64_t>(src.size()) != c.linear_n_v_heads * chunk)
    fail("v-head reorder: {} values, expected {} heads x {}", src.size(), c.linear_n_v_heads, chunk);
  for (int64_t g = 0; g < nk; ++g)
    for (int64_t j = 0; j < r; ++j)
      std::copy_n(src.data() + (g * r + j) * chunk, chunk, out.data() + (j * nk + g) * chunk);
  return out;
}

std::vector<float> tile_v_columns(const std::vector<float>& src, const ModelConfig& c, int64_t rows) {
  const int64_t nk = c.linear_n_k_heads, r = c.linear_n_v_heads / nk, dv = c.linear_v_head_dim;
  const int64_t cols = c.linear_n_v_heads * dv;
  if (static_cast<int64_t>(src.size()) != rows * cols) fail("v-head reorder: {} values, expected {} x {}", src.size(), rows, cols);
  std::vector<float> out(src.size());
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t g = 0; g < nk; ++g)
      for (int64_t j = 0; j < r; ++j)
        std::copy_n(src.data() + row * cols + (g * r + j) * dv, dv, out.data() + row * cols + (j * nk + g) * dv);
  return out;
}

using Transform = std::function<std::vector<float>(const std::vector<float>&)>;
GGUFTensorPlan plan_transformed(std::string gguf_name, std::string hf_name, std::vector<int64_t> shape,
                                bool quantizable, Transform f) {
  GGUFTensorPlan plan = plan_copy(std::move(gguf_name), std::move(hf_name), std::move(shape), quantizable);
  plan.transform = [f](const std::vector<const std::vector<float>*>& src) { return f(*src.at(0)); };
  return plan;
}

void add_linear_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  const int64_t key_dim = c.linear_n_k_heads * c.linear_k_head_dim;
  const int64_t value_dim = c.linear_n_v_heads * c.linear_v_head_dim, nv = c.linear_n_v_heads;
  out.push_back(hf_linear(p + "in_proj_qkv.weight", 2 * key_dim + value_dim, c.hidden_size));
  out.push_back(hf_linear(p + "in_proj_z.weight", value_dim, c.hidden_size));
  out.push_back(hf_linear(p + "in_proj_b.weight", nv, c.hidden_size, false));
  out.push_back(hf_linear(p + "in_proj_a.weight", nv, c.hidden_size, false));
  out.push_back(HFTensorSpec{p + "conv1d.weight", {c.linear_conv_channels(), 1, c.linear_conv_kernel}, Init::Normal,
                             std_for_fan_in(c.linear_conv_kernel), false});
  // As Qwen3-Next's: decay ~0.5 per token so that a state not carried over shows in the logits.
  out.push_back(HFTensorSpec{p + "dt_bias", {nv}, Init::Bias, 0.5, false});
  out.push_back(HFTensorSpec{p + "A_log", {nv}, Init::Bias, 0.5, false});
  out.push_back(hf_norm(p + "norm.weight", c.linear_v_head_dim));  // plain weight (init ones in HF)
  out.push_back(hf_linear(p + "out_proj.weight", c.hidden_size, value_dim));
}

void plan_linear_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t key_dim = c.linear_n_k_heads * c.linear_k_head_dim, dv = c.linear_v_head_dim;
  const int64_t value_dim = c.linear_n_v_heads * dv, nv = c.linear_n_v_heads, hidden = c.hidden_size;
  const int64_t K = c.linear_conv_kernel;
  const ModelConfig cc = c;
  // q and k rows stay, the v rows (and v channels of the conv) are tiled.
  auto tile_v_part = [cc, key_dim, dv](int64_t cols) {
    return [cc, key_dim, dv, cols](const std::vector<float>& src) {
      std::vector<float> out(src.begin(), src.begin() + 2 * key_dim * cols);
      const std::vector<float> v(src.begin() + 2 * key_dim * cols, src.end());
      const std::vector<float> tiled = tile_v_rows(v, cc, dv, cols);
      out.insert(out.end(), tiled.begin(), tiled.end());
      return out;
    };
  };
  out.push_back(plan_transformed(g + "attn_qkv.weight", p + "in_proj_qkv.weight", {2 * key_dim + value_dim, hidden},
                                 true, tile_v_part(hidden)));
  out.push_back(plan_transformed(g + "attn_gate.weight", p + "in_proj_z.weight", {value_dim, hidden}, true,
                                 [cc, dv, hidden](const std::vector<float>& s) { return tile_v_rows(s, cc, dv, hidden); }));
  out.push_back(plan_transformed(g + "ssm_conv1d.weight", p + "conv1d.weight", {c.linear_conv_channels(), K}, false,
                                 tile_v_part(K)));
  const auto per_head = [cc](int64_t cols) {
    return [cc, cols](const std::vector<float>& s) { return tile_v_rows(s, cc, 1, cols); };
  };
  out.push_back(plan_transformed(g + "ssm_dt.bias", p + "dt_bias", {nv}, false, per_head(1)));
  out.push_back(plan_transformed(g + "ssm_a", p + "A_log", {nv}, false, [cc](const std::vector<float>& s) {
    std::vector<float> a = tile_v_rows(s, cc, 1, 1);
    for (float& v : a) v = -std::exp(v);
    return a;
  }));
  out.push_back(plan_transformed(g + "ssm_beta.weight", p + "in_proj_b.weight", {nv, hidden}, false, per_head(hidden)));
  out.push_back(plan_transformed(g + "ssm_alpha.weight", p + "in_proj_a.weight", {nv, hidden}, false, per_head(hidden)));
  out.push_back(plan_copy(g + "ssm_norm.weight", p + "norm.weight", {dv}, false));
  out.push_back(plan_transformed(g + "ssm_out.weight", p + "out_proj.weight", {hidden, value_dim}, true,
                                 [cc, hidden](const std::vector<float>& s) { return tile_v_columns(s, cc, hidden); }));
}

// Fused experts (transformers 5): gate_up_proj [n, 2 ff, hidden], down_proj [n, hidden, ff].
void add_fused_experts(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& p) {
  const int64_t n = c.n_experts, ff = c.moe_intermediate_size, hidden = c.hidden_size;
  out.push_back(HFTensorSpec{p + "gate_up_proj", {n, 2 * ff, hidden}, Init::Normal, std_for_fan_in(hidden), true});
  out.push_back(HFTensorSpec{p + "down_proj", {n, hidden, ff}, Init::Normal, std_for_fan_in(ff), true});
}

// The converter's Qwen2MoeModel split: gate = [..., :ff, :], up = [..., ff:, :] per expert.
void plan_fused_experts(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il, const std::string& p) {
  const std::string g = gguf_layer(il);
  const int64_t n = c.n_experts, ff = c.moe_intermediate_size, hidden = c.hidden_size;
  for (const bool up : {false, true})
    out.push_back(plan_transformed(g + (up ? "ffn_up_exps.weight" : "ffn_gate_exps.weight"), p + "gate_up_proj",
                                   {n, ff, hidden}, true, [n, ff, hidden, up](const std::vector<float>& s) {
                                     std::vector<float> half;
                                     half.reserve(static_cast<size_t>(n * ff * hidden));
                                     for (int64_t e = 0; e < n; ++e) {
                                       const float* first = s.data() + (e * 2 * ff + (up ? ff : 0)) * hidden;
                                       half.insert(half.end(), first, first + ff * hidden);
                                     }
                                     return half;
                                   }));
  out.push_back(plan_copy(g + "ffn_down_exps.weight", p + "down_proj", {n, hidden, ff}));
}

void read_common_hf(const json& hf, ModelConfig& c) {
  c.qk_norm = true;
  if (c.attention_bias) fail("key attention_bias: true is not supported (llama.cpp's {} has no biases)", c.arch);
  if (!hf_bool(hf, "attn_output_gate", true))
    fail("key attn_output_gate: false is not supported (llama.cpp's {} always gates)", c.arch);
  read_linear_attention_hf(hf, c);
}

void read_dense_hf(const json& hf, ModelConfig& c) {
  if (!hf_has(hf, "intermediate_size")) fail("missing key intermediate_size");
  read_common_hf(hf, c);
}

void read_moe_hf(const json& hf, ModelConfig& c) {
  for (const char* key : {"num_experts", "num_experts_per_tok", "moe_intermediate_size"})
    if (!hf_has(hf, key)) fail("missing key {}", key);
  c.n_experts = hf_int(hf, "num_experts", 0, 1, kMaxExperts);
  c.n_experts_used = hf_int(hf, "num_experts_per_tok", 0, 1, kMaxExperts);
  c.moe_intermediate_size = hf_int(hf, "moe_intermediate_size", 0, 1, kMaxFFN);
  c.shared_expert_intermediate_size = hf_int(hf, "shared_expert_intermediate_size", 0, 0, kMaxFFN);
  c.n_shared_experts = c.shared_expert_intermediate_size > 0 ? 1 : 0;
  // Qwen3_5MoeSparseMoeBlock always renormalises the top-k (the config has no norm_topk_prob).
  c.norm_topk_prob = hf_bool(hf, "norm_topk_prob", true);
  if (!c.norm_topk_prob) fail("key norm_topk_prob: false is not supported (llama.cpp's qwen35moe renormalises)");
  c.scoring_func = "softmax";
  read_common_hf(hf, c);
}

// The converter writes rope.dimension_sections (mrope_section padded to 4, default [11, 11, 10, 0]).
void write_sections(const ModelConfig& c, GGUFWriter& w) {
  std::vector<int32_t> sections = {11, 11, 10, 0};
  const json& src = c.source;
  const json text = src.is_object() && src.contains("text_config") ? src["text_config"] : src;
  if (text.is_object() && hf_has(text, "rope_parameters") && text["rope_parameters"].is_object() &&
      hf_has(text["rope_parameters"], "mrope_section")) {
    const json& s = text["rope_parameters"]["mrope_section"];
    if (!s.is_array() || s.size() > 4) fail("key rope_parameters.mrope_section: expected a list of up to 4 integers");
    sections = {0, 0, 0, 0};
    for (size_t i = 0; i < s.size(); ++i) {
      if (!s[i].is_number_integer()) fail("key rope_parameters.mrope_section: expected integers, got {}", s.dump());
      sections[i] = s[i].get<int32_t>();
    }
  }
  w.set(c.arch + ".rope.dimension_sections", GGUFValue::i32_array(sections));
}

void write_metadata(const ModelConfig& c, GGUFWriter& w) {
  write_common_gguf_metadata(c, w);
  if (c.is_moe()) {
    write_expert_counts(c, w);
    gguf_set_u32(w, c.arch, "expert_feed_forward_length", c.moe_intermediate_size);
    if (c.shared_expert_intermediate_size > 0)
      gguf_set_u32(w, c.arch, "expert_shared_feed_forward_length", c.shared_expert_intermediate_size);
  }
  write_sections(c, w);
  write_linear_attention_gguf(c, w);
}

void read_metadata(const GGUFFile& f, ModelConfig& c) {
  c.qk_norm = true;
  if (c.arch == "qwen35moe") {
    c.norm_topk_prob = true;
    c.scoring_func = "softmax";
    c.moe_intermediate_size = gguf_arch_int(f, c.arch, "expert_feed_forward_length");
    c.shared_expert_intermediate_size = gguf_arch_int_opt(f, c.arch, "expert_shared_feed_forward_length").value_or(0);
    c.n_shared_experts = c.shared_expert_intermediate_size > 0 ? 1 : 0;
  }
  if (gguf_arch_int_opt(f, c.arch, "nextn_predict_layers").value_or(0) > 0)
    fail("key {}.nextn_predict_layers: the MTP block is not supported yet (convert with --no-mtp)", c.arch);
  read_linear_attention_gguf(f, c);
}

std::vector<HFTensorSpec> hf_tensors(const ModelConfig& c) {
  std::vector<HFTensorSpec> out;
  const std::string t = text_prefix(c);
  out.push_back(HFTensorSpec{t + "embed_tokens.weight", {c.vocab_size, c.hidden_size}, Init::Normal, embedding_std(c), true});
  for (int64_t il = 0; il < c.n_layers; ++il) {
    const std::string p = layer_prefix(c, il);
    out.push_back(hf_centred_norm(p + "input_layernorm.weight", c.hidden_size));
    if (c.layer_is_recurrent(il))
      add_linear_attention(out, c, p + "linear_attn.");
    else
      add_gated_attention(out, c, p + "self_attn.");
    out.push_back(hf_centred_norm(p + "post_attention_layernorm.weight", c.hidden_size));
    if (c.is_moe()) {
      out.push_back(hf_router(p + "mlp.gate.weight", c.n_experts, c.hidden_size));
      add_fused_experts(out, c, p + "mlp.experts.");
      if (c.shared_expert_intermediate_size > 0) {
        add_dense_ffn(out, c, p + "mlp.shared_expert.", c.shared_expert_intermediate_size);
        out.push_back(hf_linear(p + "mlp.shared_expert_gate.weight", 1, c.hidden_size, false));
      }
    } else {
      add_dense_ffn(out, c, p + "mlp.", c.intermediate_size);
    }
  }
  out.push_back(hf_centred_norm(t + "norm.weight", c.hidden_size));
  if (!c.tie_word_embeddings)
    out.push_back(HFTensorSpec{"lm_head.weight", {c.vocab_size, c.hidden_size}, Init::Normal, lm_head_std(c), true});
  return out;
}

std::vector<GGUFTensorPlan> gguf_tensors(const ModelConfig& c) {
  std::vector<GGUFTensorPlan> out;
  const std::string t = text_prefix(c);
  out.push_back(plan_copy("token_embd.weight", t + "embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  for (int64_t il = 0; il < c.n_layers; ++il) {
    const std::string p = layer_prefix(c, il), g = gguf_layer(il);
    out.push_back(plan_centred_norm(g + "attn_norm.weight", p + "input_layernorm.weight", c.hidden_size));
    if (c.layer_is_recurrent(il))
      plan_linear_attention(out, c, il, p + "linear_attn.");
    else
      plan_gated_attention(out, c, il, p + "self_attn.");
    out.push_back(plan_centred_norm(g + "post_attention_norm.weight", p + "post_attention_layernorm.weight",
                                    c.hidden_size));
    if (c.is_moe()) {
      plan_router(out, c, il, p + "mlp.gate.weight");
      plan_fused_experts(out, c, il, p + "mlp.experts.");
      if (c.shared_expert_intermediate_size > 0) {
        plan_dense_ffn(out, c, il, p + "mlp.shared_expert.", c.shared_expert_intermediate_size, "_shexp");
        out.push_back(plan_copy(g + "ffn_gate_inp_shexp.weight", p + "mlp.shared_expert_gate.weight", {c.hidden_size},
                                false));
      }
    } else {
      plan_dense_ffn(out, c, il, p + "mlp.", c.intermediate_size);
    }
  }
  out.push_back(plan_centred_norm("output_norm.weight", t + "norm.weight", c.hidden_size));
  if (!c.tie_word_embeddings) out.push_back(plan_copy("output.weight", "lm_head.weight", {c.vocab_size, c.hidden_size}));
  return out;
}

}  // namespace

ArchSpec make_qwen35_arch() {
  ArchSpec spec;
  spec.arch = "qwen35";
  spec.hf_architectures = {"Qwen3_5ForConditionalGeneration", "Qwen3_5ForCausalLM"};
  spec.read_hf_config = read_dense_hf;
  spec.write_gguf_metadata = write_metadata;
  spec.read_gguf_metadata = read_metadata;
  spec.hf_tensors = hf_tensors;
  spec.gguf_tensors = gguf_tensors;
  // The vision tower and the MTP block (mtp_num_hidden_layers) of the real downloads.
  spec.hf_ignored_prefixes = {"model.visual.", "mtp."};
  return spec;
}

ArchSpec make_qwen35moe_arch() {
  ArchSpec spec = make_qwen35_arch();
  spec.arch = "qwen35moe";
  spec.hf_architectures = {"Qwen3_5MoeForConditionalGeneration", "Qwen3_5MoeForCausalLM"};
  spec.read_hf_config = read_moe_hf;
  return spec;
}

}  // namespace dragon
