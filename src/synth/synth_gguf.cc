// `dragon synth --format gguf`: the HF-space model converted through the ArchSpec's plans.
#include <fmt/format.h>

#include "convert/gguf_from_plans.h"
#include "io/gguf.h"
#include "synth/random.h"
#include "synth/synth_writers.h"
#include "synth/tokenizer_embed.h"
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
  for (const GGUFTensorPlan& p : plans)
    types.push_back(p.quantizable && p.shape.size() >= 2 ? gguf_tensor_type(dtype, p.shape.back()) : DType::F32);
  const uint64_t total = write_gguf_from_plans(w, options.out, plans, types, [&](const std::string& name) {
    return synth_tensor_values(specs.at(name), options.seed);
  });
  return fmt::format("wrote {} ({} {}, {} tensors, {} bytes of weights)", options.out, plan.preset->name,
                     options.dtype, plans.size(), total);
}

}  // namespace dragon::synth_detail
