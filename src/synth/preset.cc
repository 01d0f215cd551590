// The table of all presets. Each family's preset file adds one call here.
#include "synth/preset.h"

namespace dragon {

const std::vector<Preset>& all_presets() {
  static const std::vector<Preset> presets = [] {
    std::vector<Preset> all;
    for (auto list : {qwen3_presets, dense_presets, moe_presets, hybrid_presets, sparse_presets}) {
      auto more = list();
      all.insert(all.end(), more.begin(), more.end());
    }
    return all;
  }();
  return presets;
}

const Preset* find_preset(std::string_view name) {
  for (const Preset& p : all_presets())
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace dragon
