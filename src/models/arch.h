// The per-architecture table. One ArchSpec per family (src/models/arch_<family>.cc) knows:
//  - how HF config.json maps onto ModelConfig, and how GGUF metadata does (and back);
//  - the HF tensors a model of a given config has (names and shapes), and how each is initialised
//    in a synthetic model;
//  - how HF tensors become llama.cpp-compatible GGUF tensors: names, and transforms such as the
//    q/k row permutation of Llama, stacking per-expert weights into one 3-D tensor, splitting
//    DeepSeek's kv_b_proj.
// Synthetic models are made in HF space and converted, so an HF directory and a GGUF file made
// from the same seed hold the same model.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_config.h"
#include "tensor/tensor_view.h"

namespace dragon {

class GGUFFile;
class GGUFWriter;

// How a synthetic weight is initialised. Every tensor gets random values (never plain zeros or
// ones), so that a kernel that ignores a bias or a norm weight changes the logits.
enum class Init {
  Normal,      // N(0, std^2) — projections use std ~ 1/sqrt(fan_in) so activations stay O(1)
  NormWeight,  // 1 + N(0, std^2) — RMSNorm / LayerNorm weights
  Bias,        // N(0, std^2), small — biases, e_score_correction_bias
};

struct HFTensorSpec {
  std::string name;               // e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;     // outermost first
  Init init = Init::Normal;
  double std = 0.02;              // for Normal / Small
  bool quantizable = true;        // false for norms, biases, router / gate, small vectors: kept F32
};

// A GGUF tensor built from one or more HF tensors (already as f32 arrays, in HF shape).
struct GGUFTensorPlan {
  std::string name;                        // e.g. "blk.0.attn_q.weight"
  std::vector<int64_t> shape;              // outermost first
  std::vector<std::string> sources;        // HF tensor names
  // Builds the GGUF tensor's f32 data from the sources' f32 data (in `sources` order).
  // Empty = identity copy of the single source.
  std::function<std::vector<float>(const std::vector<const std::vector<float>*>&)> transform;
  bool quantizable = true;
  // The transform only concatenates the sources, each a whole number of rows (stacked experts):
  // a writer may then encode one source at a time instead of holding them all as f32 — for
  // DeepSeek-V3 that is one 59 MB expert instead of 2 x 15 GB per layer tensor.
  bool concatenates_sources = false;
};

struct ArchSpec {
  std::string arch;                           // GGUF general.architecture, e.g. "qwen3"
  std::vector<std::string> hf_architectures;  // HF "architectures" strings, e.g. "Qwen3ForCausalLM"

  // Family-specific parts of HF config.json -> ModelConfig. Common keys (hidden_size,
  // num_hidden_layers, ...) are read by config_from_hf before this is called.
  std::function<void(const nlohmann::json& hf, ModelConfig& c)> read_hf_config;
  // ModelConfig -> GGUF metadata (all "<arch>.*" keys llama.cpp reads for this family).
  std::function<void(const ModelConfig& c, GGUFWriter& w)> write_gguf_metadata;
  // GGUF metadata -> ModelConfig (the inverse of write_gguf_metadata).
  std::function<void(const GGUFFile& f, ModelConfig& c)> read_gguf_metadata;
  // The HF tensors of a model of this config, in the order HF writes them.
  std::function<std::vector<HFTensorSpec>(const ModelConfig& c)> hf_tensors;
  // The GGUF tensors, in llama.cpp's order, with how to build each from HF tensors.
  std::function<std::vector<GGUFTensorPlan>(const ModelConfig& c)> gguf_tensors;
  // HF tensor-name prefixes a real checkpoint has but dragon does not run (a multimodal release's
  // vision tower, an MTP block the family does not support yet): loading skips them.
  std::vector<std::string> hf_ignored_prefixes;
};

// Registry: arch_registry.cc lists every family's make_*_arch() explicitly (a static-initializer
// registration would be dropped by the linker from a static library).
const ArchSpec* find_arch_by_gguf(std::string_view arch);
const ArchSpec* find_arch_by_hf(std::string_view hf_architecture);
const std::vector<ArchSpec>& all_archs();

// One per family, each in src/models/arch_<family>.cc.
ArchSpec make_llama_arch();        // DeepSeek LLM, DeepSeek Coder, Yi, R1-Distill-Llama
ArchSpec make_qwen2_arch();        // Qwen2 / 2.5, QwQ, R1-Distill-Qwen
ArchSpec make_qwen3_arch();
ArchSpec make_glm4_arch();         // GLM-4-0414 dense
ArchSpec make_ernie4_5_arch();
ArchSpec make_baichuan_arch();
ArchSpec make_qwen3moe_arch();
ArchSpec make_deepseek_arch();     // DeepSeek-MoE 16B
ArchSpec make_deepseek2_arch();    // DeepSeek V2 / V2-Lite / V3 / R1, Kimi K2
ArchSpec make_deepseek32_arch();   // DeepSeek-V3.2: V3 + the DSA lightning indexer
ArchSpec make_glm_dsa_arch();      // GLM-5 / 5.1: V3.2's body, the indexer's rope in adjacent pairs
ArchSpec make_glm4moe_arch();      // GLM-4.5 / 4.5-Air / 4.6
ArchSpec make_minimax_m2_arch();
ArchSpec make_ernie4_5_moe_arch();
ArchSpec make_hunyuan_moe_arch();
ArchSpec make_qwen3next_arch();     // Qwen3-Next: Gated DeltaNet + gated attention, MoE
ArchSpec make_kimi_linear_arch();   // Kimi Linear: Kimi Delta Attention + MLA without rope, MoE
ArchSpec make_kimi_k3_arch();       // Kimi-K3: Kimi Linear + attention residuals, latent MoE, SiTU
ArchSpec make_qwen35_arch();        // Qwen3.5 dense (multimodal checkpoints: the text model)
ArchSpec make_qwen35moe_arch();     // Qwen3.5-MoE
ArchSpec make_minimax01_arch();     // MiniMax-Text-01 / M1: lightning + softmax attention, MoE
ArchSpec make_hy_v3_arch();         // Tencent Hy3: Qwen3-style attention, DeepSeek-V3-style MoE
ArchSpec make_hy_v4_arch();         // Tencent Hy4: gated MLA with sinks, DeepSeekMoE, hyper-connections
ArchSpec make_minimax_m3_arch();    // MiniMax-M3: M2-style GQA + DeepSeek-V3-style MoE + MSA sparse attention

// Whole-config readers: common keys, then the family's part. Throw dragon::Error for an unknown
// architecture or a missing / out-of-range key, naming it.
ModelConfig config_from_hf(const nlohmann::json& hf_config);
ModelConfig config_from_gguf(const GGUFFile& file);

}  // namespace dragon
