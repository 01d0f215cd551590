// DeepSeek-V3.2 / V3.2-Exp (DeepseekV32ForCausalLM, llama.cpp arch "deepseek32"): DeepSeek-V3
// (arch_deepseek2.cc: MLA, DeepSeekMoE, YaRN) plus DeepSeek Sparse Attention — every layer has a
// lightning indexer (models/dsa_indexer.h) under self_attn.indexer:
//   wq_b [index_n_heads * index_head_dim, q_lora_rank]   queries from the MLA's normed q_a output
//   wk [index_head_dim, hidden], k_norm (LayerNorm, weight + bias)   one key per position
//   weights_proj [index_n_heads, hidden]                  per-head weights of the scores
// config.json adds index_n_heads, index_head_dim and index_topk.
// GGUF (conversion/deepseek.py DeepseekV32Model): the indexer tensors are copied as they are
// (blk.N.indexer.attn_q_b / attn_k / k_norm / proj), attention.indexer.{head_count, key_length,
// top_k} are written, and unlike V3 the MTP layers are KEPT: block_count counts them and
// nextn_predict_layers is written (they become blk.{n_layers + i} with nextn.* extras).
// llama.cpp: src/models/deepseek32.cpp.
#include "io/gguf.h"
#include "models/arch_deepseek2.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon {

namespace {

void add_indexer(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il) {
  using namespace arch;
  const std::string p = hf_layer(il) + "self_attn.indexer.";
  out.push_back(hf_linear(p + "wq_b.weight", c.index_n_heads * c.index_head_dim, c.q_lora_rank));
  out.push_back(hf_linear(p + "wk.weight", c.index_head_dim, c.hidden_size));
  out.push_back(hf_norm(p + "k_norm.weight", c.index_head_dim));
  out.push_back(hf_bias(p + "k_norm.bias", c.index_head_dim));
  // The release stores weights_proj in BF16 beside its FP8 projections.
  out.push_back(hf_linear(p + "weights_proj.weight", c.index_n_heads, c.hidden_size, /*quantizable=*/false));
}

void plan_indexer(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il) {
  using namespace arch;
  const std::string h = hf_layer(il) + "self_attn.indexer.", g = gguf_layer(il) + "indexer.";
  out.push_back(plan_copy(g + "k_norm.weight", h + "k_norm.weight", {c.index_head_dim}, false));
  out.push_back(plan_copy(g + "k_norm.bias", h + "k_norm.bias", {c.index_head_dim}, false));
  out.push_back(plan_copy(g + "proj.weight", h + "weights_proj.weight", {c.index_n_heads, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_k.weight", h + "wk.weight", {c.index_head_dim, c.hidden_size}));
  out.push_back(plan_copy(g + "attn_q_b.weight", h + "wq_b.weight",
                          {c.index_n_heads * c.index_head_dim, c.q_lora_rank}));
}

}  // namespace

ArchSpec make_deepseek32_arch() {
  using namespace deepseek2_arch;
  ArchSpec spec;
  spec.arch = "deepseek32";
  spec.hf_architectures = {"DeepseekV32ForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json& hf, ModelConfig& c) {
    using namespace arch;
    read_mla_keys(hf, c);
    read_moe_keys(hf, c);
    for (const char* key : {"index_n_heads", "index_head_dim", "index_topk"})
      if (!hf_has(hf, key)) fail("missing key {}", key);
    if (c.q_lora_rank == 0) fail("key q_lora_rank: the lightning indexer needs q compression (q_lora_rank > 0)");
    c.index_n_heads = hf_int(hf, "index_n_heads", 0, 1, kMaxHeads);
    c.index_head_dim = hf_int(hf, "index_head_dim", 0, 1, kMaxHeadDim);
    c.index_topk = hf_int(hf, "index_topk", 0, 1, int64_t{1} << 24);
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    using namespace arch;
    const std::string& a = c.arch;
    write_metadata(c, w);
    gguf_set_u32(w, a, "block_count", c.n_layers + c.n_nextn_layers);  // the MTP layers are kept
    if (c.n_nextn_layers > 0) gguf_set_u32(w, a, "nextn_predict_layers", c.n_nextn_layers);
    gguf_set_u32(w, a, "attention.indexer.head_count", c.index_n_heads);
    gguf_set_u32(w, a, "attention.indexer.key_length", c.index_head_dim);
    gguf_set_u32(w, a, "attention.indexer.top_k", c.index_topk);
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    using namespace arch;
    const std::string& a = c.arch;
    read_metadata(f, c);
    c.n_nextn_layers = gguf_arch_int_opt(f, a, "nextn_predict_layers").value_or(0);
    if (c.n_nextn_layers >= c.n_layers)
      fail("key {}.nextn_predict_layers: {} is not less than block_count {}", a, c.n_nextn_layers, c.n_layers);
    c.n_layers -= c.n_nextn_layers;
    c.index_n_heads = gguf_arch_int(f, a, "attention.indexer.head_count");
    c.index_head_dim = gguf_arch_int(f, a, "attention.indexer.key_length");
    c.index_topk = gguf_arch_int(f, a, "attention.indexer.top_k");
  };

  spec.hf_tensors = [](const ModelConfig& c) {
    std::vector<HFTensorSpec> out;
    arch::add_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      add_mla_attention(out, c, il);
      add_indexer(out, c, il);
      arch::add_deepseek_moe_ffn(out, c, il);
      if (il >= c.n_layers) arch::add_nextn_extras(out, c, il);  // the MTP block
    }
    arch::add_output(out, c);
    return out;
  };

  spec.gguf_tensors = [](const ModelConfig& c) {
    std::vector<GGUFTensorPlan> out;
    arch::plan_embedding(out, c);
    for (int64_t il = 0; il < c.n_layers + c.n_nextn_layers; ++il) {
      plan_mla_attention(out, c, il);
      plan_indexer(out, c, il);
      arch::plan_deepseek_moe_ffn(out, c, il);
      if (il >= c.n_layers) arch::plan_nextn_extras(out, c, il);
    }
    arch::plan_output(out, c);
    return out;
  };
  return spec;
}

}  // namespace dragon
