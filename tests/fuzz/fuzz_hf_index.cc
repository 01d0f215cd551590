// model.safetensors.index.json of a sharded HF directory: the input is the index; the directory
// holds a fixed config.json and two real shards. HFDirectory::open must answer dragon::Error for
// any index that does not match the shards (missing shard, a path leaving the directory, a tensor
// in two shards...) and never map a file outside the directory.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "io/hf_dir.h"
#include "io/safetensors.h"

using namespace dragon;

namespace {

std::filesystem::path make_model_dir() {
  const auto dir = fuzz::scratch_dir() / "hf";
  std::filesystem::create_directories(dir);
  fuzz::write_file(dir / "config.json", R"({"architectures": ["Qwen3ForCausalLM"]})");
  SafetensorsWriter w;
  w.add_tensor("a.weight", DType::F32, {2, 4});
  w.add_tensor("b.weight", DType::F16, {4});
  w.add_tensor("c.bias", DType::F32, {8});
  // Shards of at most 40 bytes: a.weight alone, then b.weight + c.bias.
  w.write_dir(dir.string(), [&](size_t i) { return std::vector<uint8_t>(i == 1 ? 8 : 32, uint8_t(i)); }, 40);
  // The index the fuzzer mutates starts from this real one (the seed corpus holds a copy).
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = make_model_dir();
  fuzz::write_file(dir / "model.safetensors.index.json", {reinterpret_cast<const char*>(data), size});
  fuzz::expect_clean_errors([&] {
    std::unique_ptr<HFDirectory> hf = HFDirectory::open(dir.string());
    for (const auto& shard : hf->shards()) {
      const auto canonical = std::filesystem::weakly_canonical(shard->path());
      if (canonical.parent_path() != std::filesystem::weakly_canonical(dir))
        fuzz::finding("a shard outside the model directory was mapped: " + shard->path());
      fuzz::check_inside(shard->tensors(), shard->path());
    }
  });
  return 0;
}
