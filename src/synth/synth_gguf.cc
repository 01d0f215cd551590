// `dragon synth --format gguf`: the HF-space model converted through the ArchSpec's plans.
#include <fmt/format.h>

#include "io/gguf.h"
#include "synth/random.h"
#include "synth/synth_writers.h"
#include "synth/tokenizer_embed.h"
#include "tensor/quantize.h"
#include "util/error.h"

namespace dragon::synth_detail {

namespace {

int64_t numel(const std::vector<int64_t>& shape) { return checked_numel(shape, "shape"); }

// Checks every plan against the HF tensors before anything is written, so a mistake in a
// family's plans is reported by name instead of as a short tensor mid-file.
void check_plans(const std::vector<GGUFTensorPlan>& plans, const std::map<std::string, HFTensorSpec>& specs) {
  for (const GGUFTensorPlan& plan : plans) {
    if (plan.sources.empty()) fail("GGUF tensor {}: no HF sources", plan.name);
    for (const std::string& src : plan.sources)
      if (!specs.count(src)) fail("GGUF tensor {}: source {} is not an HF tensor of this config", plan.name, src);
    if (!plan.transform) {
      const HFTensorSpec& s = specs.at(plan.sources.front());
      if (plan.sources.size() != 1 || numel(s.shape) != numel(plan.shape))
        fail("GGUF tensor {} {}: an identity copy of {} {}", plan.name, shape_string(plan.shape), s.name,
             shape_string(s.shape));
    }
  }
}

}  // namespace

std::string write_synth_gguf(const SynthOptions& options, const SynthPlan& plan, DType dtype) {
  const ModelConfig& c = plan.config;
  const auto specs = hf_specs_by_name(plan);
  const std::vector<GGUFTensorPlan> plans = plan.spec->gguf_tensors(c);
  check_plans(plans, specs);

  GGUFWriter w;
  w.set("general.architecture", GGUFValue::str(c.arch));
  w.set("general.name", GGUFValue::str(options.name.empty() ? plan.preset->name : options.name));
  if (!options.description.empty()) w.set("general.description", GGUFValue::str(options.description));
  w.set("general.file_type", GGUFValue::u32(gguf_file_type(dtype)));
  if (dtype_is_quantized(dtype)) w.set("general.quantization_version", GGUFValue::u32(2));
  w.set("general.source.huggingface.repository", GGUFValue::str(plan.preset->hf_repo));
  plan.spec->write_gguf_metadata(c, w);
  embed_gguf_tokenizer(plan.preset->tokenizer, tokenizers_dir(options), c, w);

  std::vector<DType> types;
  for (const GGUFTensorPlan& p : plans) {
    const DType type = p.quantizable && p.shape.size() >= 2 ? gguf_tensor_type(dtype, p.shape.back()) : DType::F32;
    types.push_back(type);
    w.add_tensor(p.name, type, p.shape);
  }

  uint64_t total = 0;
  w.write(options.out, [&](size_t index) {
    const GGUFTensorPlan& p = plans.at(index);
    std::vector<std::vector<float>> sources;
    for (const std::string& name : p.sources) sources.push_back(synth_tensor_values(specs.at(name), options.seed));
    std::vector<float> values;
    if (p.transform) {
      std::vector<const std::vector<float>*> ptrs;
      for (const auto& s : sources) ptrs.push_back(&s);
      values = p.transform(ptrs);
    } else {
      values = std::move(sources.front());
    }
    const int64_t n = numel(p.shape);
    if (static_cast<int64_t>(values.size()) != n)
      fail("GGUF tensor {}: transform made {} values for shape {}", p.name, values.size(), shape_string(p.shape));
    const int64_t cols = p.shape.empty() ? 1 : p.shape.back();
    std::vector<uint8_t> bytes = quantize_tensor(types[index], values.data(), cols ? n / cols : 0, cols);
    total += bytes.size();
    return bytes;
  });
  return fmt::format("wrote {} ({} {}, {} tensors, {} bytes of weights)", options.out, plan.preset->name,
                     options.dtype, plans.size(), total);
}

}  // namespace dragon::synth_detail
