// config.json -> ModelConfig (config_from_hf: the shared keys, each family's reader, validation),
// then the tensor lists the config implies. Any JSON must give a config or dragon::Error.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "models/arch.h"

using namespace dragon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json hf;
  try {
    hf = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // parse_error or out_of_range (1e999): HFDirectory reports both as dragon::Error
  }
  fuzz::expect_clean_errors([&] {
    ModelConfig c = config_from_hf(hf);
    (void)config_to_json(c);
    const ArchSpec* spec = find_arch_by_gguf(c.arch);
    if (!spec) fuzz::finding("config_from_hf returned an unknown arch " + c.arch);
    // The tensor lists are proportional to layers x experts: keep an execution quick.
    if (c.n_layers * std::max<int64_t>(1, c.n_experts) > 4096) return;
    for (const HFTensorSpec& t : spec->hf_tensors(c)) (void)checked_numel(t.shape, t.name);
    for (const GGUFTensorPlan& t : spec->gguf_tensors(c)) (void)checked_numel(t.shape, t.name);
  });
  return 0;
}
