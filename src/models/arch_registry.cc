// The list of supported families. Each family adds one line here (explicit calls rather than
// static registration, which a static library would drop at link time).
#include "models/arch.h"

namespace dragon {

const std::vector<ArchSpec>& all_archs() {
  static const std::vector<ArchSpec> archs = [] {
    std::vector<ArchSpec> v;
    v.push_back(make_qwen3_arch());
    for (auto make : {make_llama_arch, make_qwen2_arch, make_glm4_arch, make_ernie4_5_arch, make_baichuan_arch}) v.push_back(make());
    for (auto make : {make_qwen3moe_arch, make_deepseek_arch, make_deepseek2_arch, make_deepseek32_arch, make_glm_dsa_arch, make_glm4moe_arch, make_minimax_m2_arch, make_ernie4_5_moe_arch, make_hunyuan_moe_arch, make_hy_v3_arch, make_hy_v4_arch, make_minimax_m3_arch}) v.push_back(make());
    // hybrid linear attention
    for (auto make : {make_qwen3next_arch, make_qwen35_arch, make_qwen35moe_arch, make_kimi_linear_arch, make_kimi_k3_arch, make_minimax01_arch})
      v.push_back(make());
    return v;
  }();
  return archs;
}

const ArchSpec* find_arch_by_gguf(std::string_view arch) {
  for (const ArchSpec& spec : all_archs())
    if (spec.arch == arch) return &spec;
  return nullptr;
}

const ArchSpec* find_arch_by_hf(std::string_view hf_architecture) {
  for (const ArchSpec& spec : all_archs())
    for (const std::string& name : spec.hf_architectures)
      if (name == hf_architecture) return &spec;
  return nullptr;
}

}  // namespace dragon
