// ModelConfig.arch (llama.cpp's general.architecture; HF "architectures" map onto it through the
// ArchSpec table) -> the family's forward-pass builder.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <map>
#include <set>

#include "models/families.h"
#include "util/error.h"

namespace dragon {

namespace {

using Builder = std::function<std::unique_ptr<Model>(OpenedModel)>;

const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = {
      {"baichuan", build_baichuan},
      {"deepseek", build_deepseek},
      {"deepseek2", build_deepseek2},
      {"deepseek32", build_deepseek2},  // V3.2: the same model with the DSA indexer (models/dsa_indexer.h)
      {"ernie4_5", build_ernie4_5},
      {"ernie4_5-moe", build_ernie4_5_moe},
      {"glm-dsa", build_deepseek2},  // GLM-5: V3.2's model, the indexer rope in adjacent pairs
      {"glm4", build_glm4},
      {"glm4moe", build_glm4moe},
      {"hunyuan-moe", build_hunyuan_moe},
      {"kimi-linear", build_kimi_linear},
      {"kimi-k3", build_kimi_k3},
      {"hy_v3", build_hy_v3},
      {"hy_v4", build_hy_v4},
      {"llama", build_llama},
      {"minimax-01", build_minimax01},
      {"minimax-m2", build_minimax_m2},
      {"minimax-m3", build_minimax_m3},
      {"qwen2", build_qwen2},
      {"qwen3", build_qwen3},
      {"qwen3moe", build_qwen3moe},
      {"qwen3next", build_qwen3next},
      {"qwen35", build_qwen35},
      {"qwen35moe", build_qwen35},
  };
  return table;
}

// The families whose forward() runs only its pipeline stage's layers (DecoderModel::stage_input
// / stage_output), and those whose MoE layers go through moe_ffn (which splits the experts).
const std::set<std::string>& pipeline_families() {
  static const std::set<std::string> names = {"baichuan", "deepseek", "deepseek2", "ernie4_5", "ernie4_5-moe", "glm4", "glm4moe", "hunyuan-moe", "hy_v3", "llama", "minimax-m2", "minimax-m3", "qwen2", "qwen3", "qwen3moe"};
  return names;
}
const std::set<std::string>& expert_parallel_families() {
  static const std::set<std::string> names = {"deepseek", "deepseek2", "glm4moe", "hunyuan-moe", "hy_v3", "minimax-m2", "minimax-m3", "qwen3moe"};
  return names;
}

// --pp / --ep on a family that cannot split that way is refused before anything is loaded.
void check_shard(const OpenedModel& opened) {
  const ModelShard& s = opened.shard;
  const std::string& arch = opened.config.arch;
  if (s.pp_size > 1 && !pipeline_families().count(arch))
    fail("--pp {}: pipeline parallel is not implemented for architecture {} yet (supported: {})", s.pp_size, arch,
         fmt::join(pipeline_families(), ", "));
  if (s.ep_size > 1 && !expert_parallel_families().count(arch))
    fail("--ep {}: architecture {} has no expert-parallel MoE layers (supported: {})", s.ep_size, arch,
         fmt::join(expert_parallel_families(), ", "));
}

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const auto& [name, builder] : builders()) names.push_back(name);
  return names;
}

std::unique_ptr<Model> build_model(OpenedModel opened) {
  const auto it = builders().find(opened.config.arch);
  if (it == builders().end())
    fail("{}: architecture {} has no forward pass in dragon yet (supported: {})", opened.path, opened.config.arch,
         fmt::join(supported_architectures(), ", "));
  check_shard(opened);
  const std::string path = opened.path;
  return with_context(path, [&] { return it->second(std::move(opened)); });
}

}  // namespace dragon
