// GLM-5 / GLM-5.1 (GlmMoeDsaForCausalLM, llama.cpp arch "glm-dsa"): DeepSeek-V3.2's body
// (arch_deepseek32.cc: MLA, DeepSeekMoE with sigmoid routing and a shared expert, one lightning
// indexer per layer, the MTP layer kept in the GGUF) under GLM's config. Written from
// transformers' modular_glm_moe_dsa.py and checked against llama.cpp's src/models/glm-dsa.cpp
// and conversion/glm.py (GlmMoeDsaModel, a DeepseekV2Model subclass). What differs from V3.2:
//  - the indexer's rope rotates ADJACENT pairs (apply_rotary_pos_emb_interleave in the HF code,
//    LLAMA_ROPE_TYPE_NORM in llama.cpp) where V3.2's rotates NeoX halves: index_rope_interleaved;
//  - GLM-5.2 adds "shared" indexer layers that reuse the previous full layer's top-k
//    (config indexer_types, GGUF attention.indexer.types; llama.cpp also assumes the 5.2 pattern
//    for a file without the key whose context is >= 1M). GLM-5 / 5.1 run the indexer in every
//    layer; dragon refuses a shared pattern with a clear error rather than run it wrongly.
//  - rope.dimension_count is qk_rope_head_dim * partial_rotary_factor (1 on every release).
// The HF tensor names and the GGUF plans are V3.2's (the same Indexer module names).
#include <fmt/format.h>

#include <algorithm>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

namespace {

using json = nlohmann::json;

// config.json's indexer schedule, as GlmMoeDsaConfig.__post_init__ derives it: indexer_types,
// else index_topk_pattern ("F"/"S" per layer), else index_topk_freq / index_skip_topk_offset.
// Returns how many layers are "shared".
int64_t count_shared_indexers(const json& hf, int64_t n_layers) {
  using namespace arch;
  if (hf_has(hf, "indexer_types")) {
    const json& t = hf["indexer_types"];
    if (!t.is_array()) fail("key indexer_types: expected a list of \"full\" / \"shared\"");
    int64_t shared = 0;
    for (const json& v : t) {
      const std::string type = v.is_string() ? v.get<std::string>() : v.dump();
      if (type != "full" && type != "shared") fail("key indexer_types: {} is neither \"full\" nor \"shared\"", v.dump());
      shared += type == "shared";
    }
    return shared;
  }
  if (hf_has(hf, "index_topk_pattern")) {
    const json& p = hf["index_topk_pattern"];
    if (!p.is_string()) fail("key index_topk_pattern: expected a string of F / S");
    int64_t shared = 0;
    for (char ch : p.get<std::string>()) {
      if (ch != 'F' && ch != 'S') fail("key index_topk_pattern: '{}' is neither F nor S", ch);
      shared += ch == 'S';
    }
    return shared;
  }
  const int64_t freq = std::max<int64_t>(hf_int(hf, "index_topk_freq", 1, 0, kMaxLayers), 1);
  const int64_t offset = hf_int(hf, "index_skip_topk_offset", 2, 0, kMaxLayers);
  int64_t shared = 0;
  for (int64_t i = 0; i < n_layers; ++i) shared += std::max<int64_t>(i - offset + 1, 0) % freq != 0;
  return shared;
}

[[noreturn]] void refuse_shared(const std::string& what) {
  fail("{}: layers that share the previous layer's indexer top-k (GLM-5.2) are not implemented; "
       "dragon's glm-dsa runs the indexer in every layer (GLM-5 / GLM-5.1)",
       what);
}

}  // namespace

ArchSpec make_glm_dsa_arch() {
  ArchSpec spec = make_deepseek32_arch();  // tensors, plans, MLA / MoE / indexer keys
  spec.arch = "glm-dsa";
  spec.hf_architectures = {"GlmMoeDsaForCausalLM"};

  spec.read_hf_config = [read_v32 = spec.read_hf_config](const json& hf, ModelConfig& c) {
    read_v32(hf, c);
    c.index_rope_interleaved = true;
    if (const int64_t shared = count_shared_indexers(hf, c.n_layers); shared > 0)
      refuse_shared(fmt::format("config.json: {} shared indexer layer(s)", shared));
    // The rope covers qk_rope_head_dim * partial_rotary_factor dims (conversion/glm.py); the
    // decoupled MLA head must be exactly the rotated part.
    const json params = arch::hf_has(hf, "rope_parameters") ? hf["rope_parameters"] : json::object();
    const double partial = arch::hf_float(hf, "partial_rotary_factor", arch::hf_float(params, "partial_rotary_factor", 1.0));
    if (partial != 1.0) fail("key partial_rotary_factor: {} (only 1: the whole qk_rope_head_dim rotated)", partial);
  };

  spec.write_gguf_metadata = [write_v32 = spec.write_gguf_metadata](const ModelConfig& c, GGUFWriter& w) {
    write_v32(c, w);  // no attention.indexer.types: every layer is "full" (see the header)
  };

  spec.read_gguf_metadata = [read_v32 = spec.read_gguf_metadata](const GGUFFile& f, ModelConfig& c) {
    read_v32(f, c);
    c.index_rope_interleaved = true;
    const std::string key = c.arch + ".attention.indexer.types";
    if (const GGUFValue* types = f.find(key)) {
      int64_t shared = 0;
      for (const GGUFValue& v : types->as_array())
        shared += v.type() == GGUFType::BOOL ? !v.as_bool() : v.as_int() == 0;
      if (shared > 0) refuse_shared(fmt::format("key {}: {} shared indexer layer(s)", key, shared));
    } else if (c.context_length >= (int64_t{1} << 20)) {
      // llama.cpp's glm-dsa then assumes GLM-5.2's pattern (one full layer in four).
      refuse_shared(fmt::format("key {} absent with a context of {} (>= 1M: llama.cpp assumes GLM-5.2's pattern)", key,
                                c.context_length));
    }
  };
  return spec;
}

}  // namespace dragon
