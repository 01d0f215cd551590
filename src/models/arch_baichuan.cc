// Baichuan / Baichuan 2 (BaichuanForCausalLM, BaiChuanForCausalLM). The llama block with:
//  - one fused self_attn.W_pack [3*hidden, hidden] holding q, k, v (no biases, no GQA);
//  - NeoX-halves rope on 7B; ALiBi instead of rope on 13B. The HF config has no key for it (the
//    13B repos ship different modeling code); like llama.cpp (src/models/baichuan.cpp, which sets
//    max_alibi_bias 8 for its 13B type) dragon takes a 40-layer model for the ALiBi one.
//  - Baichuan 2's NormHead: modeling_baichuan.py L2-normalises every lm_head row before use. The
//    GGUF output.weight is written normalised so that it computes what the HF model computes
//    (normalising again at load, as an HF loader must, changes nothing).
// GGUF: W_pack is split into attn_q / attn_k / attn_v, q and k permuted to llama.cpp's adjacent
// pairs rope (LLAMA_ROPE_TYPE_NORM), as conversion/baichuan.py does; ModelConfig::rope_interleaved
// says which layout the file the config came from holds (HF false, GGUF true).
#include <cmath>

#include "io/gguf.h"
#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

namespace {

constexpr int64_t kAlibiLayers = 40;        // llama.cpp's LLM_TYPE_13B for baichuan
constexpr int64_t kBaichuan2Vocab = 125696;  // both Baichuan 2 sizes

// Baichuan 2 (NormHead) vs Baichuan 1: Baichuan 2 configs carry z_loss_weight and the 125696
// vocabulary. From a GGUF file the head is already normalised, so the answer does not matter.
bool has_norm_head(const ModelConfig& c) {
  return c.vocab_size == kBaichuan2Vocab || arch::hf_has(c.source, "z_loss_weight");
}

std::string w_pack(int64_t il) { return arch::hf_layer(il) + "self_attn.W_pack.weight"; }

// Rows [part*hidden, (part+1)*hidden) of W_pack, optionally with Llama's q/k row permutation.
GGUFTensorPlan plan_w_pack_part(const ModelConfig& c, int64_t il, int part, const std::string& gguf_name,
                                bool permute) {
  GGUFTensorPlan plan;
  plan.name = gguf_name;
  plan.shape = {c.hidden_size, c.hidden_size};
  plan.sources = {w_pack(il)};
  const int64_t rows = c.hidden_size, cols = c.hidden_size, n_head = c.n_heads;
  plan.transform = [=](const std::vector<const std::vector<float>*>& src) {
    const std::vector<float>& packed = *src.at(0);
    if (static_cast<int64_t>(packed.size()) != 3 * rows * cols)
      fail("{}: W_pack has {} values, expected 3 x {} x {}", gguf_name, packed.size(), rows, cols);
    const auto begin = packed.begin() + part * rows * cols;
    std::vector<float> slice(begin, begin + rows * cols);
    return permute ? arch::permute_qk_rows(slice, rows, cols, n_head) : slice;
  };
  return plan;
}

// output.weight with every row scaled to unit L2 norm (Baichuan 2's NormHead).
GGUFTensorPlan plan_norm_head(const ModelConfig& c) {
  GGUFTensorPlan plan = arch::plan_copy("output.weight", "lm_head.weight", {c.vocab_size, c.hidden_size});
  const int64_t cols = c.hidden_size;
  plan.transform = [cols](const std::vector<const std::vector<float>*>& src) {
    std::vector<float> w = *src.at(0);
    for (size_t r = 0; r + cols <= w.size(); r += cols) {
      double sum = 0;
      for (int64_t i = 0; i < cols; ++i) sum += double(w[r + i]) * w[r + i];
      // torch.nn.functional.normalize: x / max(||x||, 1e-12)
      const double scale = 1.0 / std::max(std::sqrt(sum), 1e-12);
      for (int64_t i = 0; i < cols; ++i) w[r + i] = static_cast<float>(w[r + i] * scale);
    }
    return w;
  };
  return plan;
}

}  // namespace

ArchSpec make_baichuan_arch() {
  ArchSpec spec;
  spec.arch = "baichuan";
  spec.hf_architectures = {"BaichuanForCausalLM", "BaiChuanForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json&, ModelConfig& c) {
    if (c.n_kv_heads != c.n_heads || c.head_dim * c.n_heads != c.hidden_size)
      fail("arch baichuan: W_pack needs num_key_value_heads = num_attention_heads and head_dim = hidden_size / heads");
    c.alibi = c.n_layers == kAlibiLayers;
    c.rope_interleaved = false;
    c.tie_word_embeddings = false;  // llama.cpp's baichuan requires output.weight
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    arch::write_common_gguf_metadata(c, w);
    w.set(c.arch + ".tensor_data_layout", GGUFValue::str("Meta AI original pth"));  // as the converter
    // llama.cpp hard-codes the 13B bias; the key only documents it (BLOOM/MPT read the same key).
    if (c.alibi) arch::gguf_set_f32(w, c.arch, "attention.max_alibi_bias", 8.0);
  };

  spec.read_gguf_metadata = [](const GGUFFile&, ModelConfig& c) {
    c.alibi = c.n_layers == kAlibiLayers;
    c.rope_interleaved = true;
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string p = arch::hf_layer(il);
      out.push_back(arch::hf_norm(p + "input_layernorm.weight", c.hidden_size));
      out.push_back(arch::hf_linear(w_pack(il), 3 * c.hidden_size, c.hidden_size));
      out.push_back(arch::hf_linear(p + "self_attn.o_proj.weight", c.hidden_size, c.hidden_size));
      out.push_back(arch::hf_norm(p + "post_attention_layernorm.weight", c.hidden_size));
      arch::add_dense_ffn(out, c, p + "mlp.", c.intermediate_size);
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers; ++il) {
      const std::string h = arch::hf_layer(il), g = arch::gguf_layer(il);
      out.push_back(arch::plan_copy(g + "attn_norm.weight", h + "input_layernorm.weight", {c.hidden_size}, false));
      out.push_back(plan_w_pack_part(c, il, 0, g + "attn_q.weight", true));
      out.push_back(plan_w_pack_part(c, il, 1, g + "attn_k.weight", true));
      out.push_back(plan_w_pack_part(c, il, 2, g + "attn_v.weight", false));
      out.push_back(arch::plan_copy(g + "attn_output.weight", h + "self_attn.o_proj.weight",
                                    {c.hidden_size, c.hidden_size}));
      out.push_back(arch::plan_copy(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", {c.hidden_size},
                                    false));
      arch::plan_dense_ffn(out, c, il, h + "mlp.", c.intermediate_size);
    }
    out.push_back(arch::plan_copy("output_norm.weight", "model.norm.weight", {c.hidden_size}, false));
    out.push_back(has_norm_head(c) ? plan_norm_head(c)
                                   : arch::plan_copy("output.weight", "lm_head.weight", {c.vocab_size, c.hidden_size}));
    return out;
  };
  return spec;
}

}  // namespace dragon
