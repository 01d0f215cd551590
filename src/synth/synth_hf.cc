// `dragon synth --format hf`: an HF model directory — config.json, generation_config.json, the
// tokenizer files and safetensors (sharded above options.max_shard_bytes).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <optional>

#include "io/safetensors.h"
#include "synth/random.h"
#include "synth/synth_writers.h"
#include "synth/tokenizer_embed.h"
#include "tensor/fp8.h"
#include "tensor/quantize.h"
#include "util/error.h"

namespace dragon::synth_detail {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int64_t kFp8Block = 128;

// DeepSeek-V3's FP8 checkpoints keep the embeddings and output heads in BF16 — including the
// MTP layer's own copies (model.layers.N.embed_tokens, shared_head.head); every other 2-D
// projection is F8_E4M3 with a per-128x128-block inverse scale.
bool is_fp8_weight(const HFTensorSpec& s) {
  return s.quantizable && s.shape.size() == 2 && !s.name.ends_with("embed_tokens.weight") &&
         s.name != "lm_head.weight" && !s.name.ends_with("shared_head.head.weight");
}

const char* torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    default: return "bfloat16";  // BF16, and FP8 checkpoints (whose other tensors are BF16)
  }
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  if (!out) fail("{}: cannot write", path.string());
}

// One safetensors entry: an HF tensor, or the weight / scale half of an FP8 tensor.
struct Entry {
  const HFTensorSpec* spec;
  enum Kind { Values, Fp8Weight, Fp8Scale } kind;
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::string write_synth_hf(const SynthOptions& options, const SynthPlan& plan, DType dtype) {
  const ModelConfig& c = plan.config;
  const std::vector<HFTensorSpec> specs = plan.spec->hf_tensors(c);
  const fs::path dir(options.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) fail("{}: cannot create directory ({})", dir.string(), ec.message());

  json config = plan.config_json;
  config["torch_dtype"] = torch_dtype_name(dtype);
  // A preset's own quantization_config (DeepSeek-V3, MiniMax-M2 ship FP8) describes its weights
  // only when they are written as FP8.
  config.erase("quantization_config");
  if (dtype == DType::F8_E4M3)
    config["quantization_config"] = {{"quant_method", "fp8"},
                                     {"fmt", "e4m3"},
                                     {"weight_block_size", {kFp8Block, kFp8Block}},
                                     {"activation_scheme", "dynamic"}};
  write_json(dir / "config.json", config);
  if (!plan.generation_config_json.empty()) write_json(dir / "generation_config.json", plan.generation_config_json);
  write_hf_tokenizer(plan.preset->tokenizer, tokenizers_dir(options), c, dir.string());

  const DType plain = dtype == DType::F8_E4M3 ? DType::BF16 : dtype;
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  std::vector<Entry> entries;
  for (const HFTensorSpec& s : specs) {
    if (dtype == DType::F8_E4M3 && is_fp8_weight(s)) {
      w.add_tensor(s.name, DType::F8_E4M3, s.shape);
      entries.push_back({&s, Entry::Fp8Weight});
      w.add_tensor(fp8_scale_name(s.name), DType::F32,
                   {ceil_div(s.shape[0], kFp8Block), ceil_div(s.shape[1], kFp8Block)});
      entries.push_back({&s, Entry::Fp8Scale});
    } else {
      w.add_tensor(s.name, plain, s.shape);
      entries.push_back({&s, Entry::Values});
    }
  }

  // The FP8 weight and its scale come from one quantization: keep it until the scale is taken.
  std::string fp8_name;
  std::optional<Fp8BlockWeights> fp8;
  uint64_t total = 0;
  w.write_dir(dir.string(), [&](size_t index) {
    const Entry& e = entries.at(index);
    const HFTensorSpec& s = *e.spec;
    std::vector<uint8_t> bytes;
    if (e.kind == Entry::Values) {
      const std::vector<float> values = synth_tensor_values(s, options.seed);
      const int64_t cols = s.shape.empty() ? 1 : s.shape.back();
      bytes = quantize_tensor(plain, values.data(), cols ? static_cast<int64_t>(values.size()) / cols : 0, cols);
    } else {
      if (fp8_name != s.name) {
        const std::vector<float> values = synth_tensor_values(s, options.seed);
        fp8 = quantize_fp8_blocks(values.data(), s.shape[0], s.shape[1], kFp8Block);
        fp8_name = s.name;
      }
      if (e.kind == Entry::Fp8Weight) {
        bytes = fp8->codes;
      } else {
        bytes.resize(fp8->scales.size() * sizeof(float));
        std::memcpy(bytes.data(), fp8->scales.data(), bytes.size());
      }
    }
    total += bytes.size();
    return bytes;
  }, options.max_shard_bytes);
  return fmt::format("wrote {} ({} {}, {} tensors, {} bytes of weights)", options.out, plan.preset->name,
                     options.dtype, entries.size(), total);
}

}  // namespace dragon::synth_detail
