// Helpers shared by the per-family ArchSpec files (arch_<family>.cc), so that each family file
// only states what is special about it. Three groups:
//  - reading HF config.json values with checks (a hostile config must give a clear error that
//    names the key, never a huge allocation);
//  - the standard llama-style tensor layout: HF names/shapes/inits and the matching llama.cpp
//    GGUF plans (blk.N.attn_q.weight, token_embd.weight, ...), plus GGUF transforms (Llama's
//    q/k row permutation, stacking experts into one 3-D tensor);
//  - the common "<arch>.*" GGUF keys (context_length, embedding_length, rope, ...) written and
//    read back exactly as llama.cpp's convert_hf_to_gguf.py / llama-model.cpp do.
//
// A family file typically looks like arch_qwen3.cc: read_hf_config sets flags, and a plain
// llama-style decoder takes its tensors from dense_decoder_hf_tensors / dense_decoder_gguf_plans;
// families with extra or fused tensors compose add_embedding / add_attention / add_dense_ffn /
// add_output and their plan_* twins themselves.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/arch.h"
#include "models/model_config.h"

namespace dragon::arch {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// HF config.json values. Each throws dragon::Error naming the key when the value has the wrong
// type or is outside [min, max]. A key that is absent or null yields `fallback`.
int64_t hf_int(const json& hf, const std::string& key, int64_t fallback, int64_t min, int64_t max);
double hf_float(const json& hf, const std::string& key, double fallback);
bool hf_bool(const json& hf, const std::string& key, bool fallback);
std::string hf_string(const json& hf, const std::string& key, const std::string& fallback);
bool hf_has(const json& hf, const std::string& key);  // present and not null
// The first of `keys` present (non-null) in `hf`, or nullopt.
std::optional<std::string> hf_first_key(const json& hf, std::initializer_list<const char*> keys);

// Sanity bounds used by the readers (public so families apply the same limits).
inline constexpr int64_t kMaxVocab = 10'000'000;
inline constexpr int64_t kMaxHidden = 1 << 17;
inline constexpr int64_t kMaxLayers = 1000;
inline constexpr int64_t kMaxHeads = 4096;
inline constexpr int64_t kMaxHeadDim = 4096;
inline constexpr int64_t kMaxFFN = 1 << 20;
inline constexpr int64_t kMaxContext = int64_t{1} << 30;
inline constexpr int64_t kMaxExperts = 4096;

// ---------------------------------------------------------------------------------------------
// Init of synthetic weights: std chosen so activations stay O(1) through depth and the logits
// have a std of ~2 (neither flat nor exploding).
double std_for_fan_in(int64_t fan_in);      // 1/sqrt(fan_in): a projection keeps unit scale
double embedding_std(const ModelConfig& c);  // 1, or lm-head-like when tied to the output
double lm_head_std(const ModelConfig& c);    // 2/sqrt(hidden) -> logits std ~2
inline constexpr double kNormWeightStd = 0.1;  // NormWeight = 1 + N(0, 0.1^2)
inline constexpr double kBiasStd = 0.1;

HFTensorSpec hf_linear(std::string name, int64_t out_features, int64_t in_features,
                       bool quantizable = true);
HFTensorSpec hf_norm(std::string name, int64_t dim);
HFTensorSpec hf_bias(std::string name, int64_t dim);

// "model.layers.{il}." — the HF prefix of layer il.
std::string hf_layer(int64_t il);
// "blk.{il}." — the GGUF prefix of layer il.
std::string gguf_layer(int64_t il);

// ---------------------------------------------------------------------------------------------
// The standard llama-style layout, HF side. Options cover the families' variations.
struct AttentionLayout {
  bool qkv_bias = false;   // q/k/v_proj.bias (Qwen2, ...)
  bool o_bias = false;     // o_proj.bias
  bool qk_norm = false;    // self_attn.q_norm / k_norm of size head_dim (Qwen3)
};
AttentionLayout attention_layout(const ModelConfig& c);  // from attention_bias / qk_norm flags

// model.embed_tokens.weight
void add_embedding(std::vector<HFTensorSpec>& out, const ModelConfig& c);
// input_layernorm + q/k/v/o (+ biases, + q_norm/k_norm) + post_attention_layernorm of layer il.
void add_attention(std::vector<HFTensorSpec>& out, const ModelConfig& c, int64_t il,
                   const AttentionLayout& layout);
// mlp.gate_proj / up_proj / down_proj of width `ff` under `prefix` (e.g. "model.layers.3.mlp.").
void add_dense_ffn(std::vector<HFTensorSpec>& out, const ModelConfig& c, const std::string& prefix,
                   int64_t ff, bool bias = false);
// model.norm.weight and lm_head.weight (unless tie_word_embeddings).
void add_output(std::vector<HFTensorSpec>& out, const ModelConfig& c);

// ---------------------------------------------------------------------------------------------
// GGUF plans. `shape` outermost first (the HF shape for identity copies).
GGUFTensorPlan plan_copy(std::string gguf_name, std::string hf_name, std::vector<int64_t> shape,
                         bool quantizable = true);

// token_embd.weight
void plan_embedding(std::vector<GGUFTensorPlan>& out, const ModelConfig& c);
// attn_norm, attn_q/k/v(+bias), attn_output(+bias), attn_q_norm/attn_k_norm, ffn_norm.
// `permute_qk` applies Llama's row permutation to q/k weights (and biases), as
// convert_hf_to_gguf.py's LlamaModel does for families whose HF rope is NeoX-halves but
// llama.cpp's arch uses the interleaved (normal) rope.
void plan_attention(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il,
                    const AttentionLayout& layout, bool permute_qk = false);
// ffn_gate / ffn_up / ffn_down from `hf_prefix` ("model.layers.3.mlp.") to `gguf_suffix`
// ("" for ffn_gate, "_shexp" for ffn_gate_shexp, ...).
void plan_dense_ffn(std::vector<GGUFTensorPlan>& out, const ModelConfig& c, int64_t il,
                    const std::string& hf_prefix, int64_t ff, const std::string& gguf_suffix = "",
                    bool bias = false);
// output_norm.weight and output.weight (unless tied).
void plan_output(std::vector<GGUFTensorPlan>& out, const ModelConfig& c);

// Transforms.
// Llama's permute: within each head, rows [0..d/2) and [d/2..d) interleave to (0,d/2,1,d/2+1,..).
// `rows` x `cols` matrix (cols = 1 for a bias) with `n_head` heads of rows/n_head rows each.
std::vector<float> permute_qk_rows(const std::vector<float>& src, int64_t rows, int64_t cols,
                                   int64_t n_head);
// Concatenates the sources (each one expert's [rows, cols] weight) into [n_expert, rows, cols].
std::vector<float> stack_sources(const std::vector<const std::vector<float>*>& sources);
// A plan stacking per-expert HF tensors into one GGUF tensor of shape [n, rows, cols].
GGUFTensorPlan plan_stacked(std::string gguf_name, std::vector<std::string> hf_names, int64_t rows,
                            int64_t cols, bool quantizable = true);

// ---------------------------------------------------------------------------------------------
// The whole llama-style decoder: embedding; per layer the attention block and a SwiGLU FFN of
// intermediate_size (biased if c.mlp_bias); output. Llama, Qwen2, Qwen3 and ERNIE 4.5 differ only
// in `layout` and in whether q/k rows are permuted for llama.cpp's interleaved rope.
std::vector<HFTensorSpec> dense_decoder_hf_tensors(const ModelConfig& c, const AttentionLayout& layout);
std::vector<GGUFTensorPlan> dense_decoder_gguf_plans(const ModelConfig& c, const AttentionLayout& layout,
                                                     bool permute_qk = false);

// ---------------------------------------------------------------------------------------------
// Common GGUF keys "<arch>.context_length" etc. (see arch_common.cc for the full list).
// write: families call it first in write_gguf_metadata, then add / override their own keys.
void write_common_gguf_metadata(const ModelConfig& c, GGUFWriter& w);
// read: config_from_gguf calls it before the family's read_gguf_metadata.
void read_common_gguf_metadata(const GGUFFile& f, ModelConfig& c);

// Checked GGUF metadata reads for "<arch>.<suffix>" keys: required ones throw naming the key.
int64_t gguf_arch_int(const GGUFFile& f, const std::string& arch, const std::string& suffix);
std::optional<int64_t> gguf_arch_int_opt(const GGUFFile& f, const std::string& arch,
                                         const std::string& suffix);
std::optional<double> gguf_arch_float_opt(const GGUFFile& f, const std::string& arch,
                                          const std::string& suffix);
std::optional<bool> gguf_arch_bool_opt(const GGUFFile& f, const std::string& arch,
                                       const std::string& suffix);
// "<arch>.<suffix>" as uint32 / float32, the types convert_hf_to_gguf.py writes.
void gguf_set_u32(GGUFWriter& w, const std::string& arch, const std::string& suffix, int64_t v);
void gguf_set_f32(GGUFWriter& w, const std::string& arch, const std::string& suffix, double v);
void gguf_set_bool(GGUFWriter& w, const std::string& arch, const std::string& suffix, bool v);

}  // namespace dragon::arch
