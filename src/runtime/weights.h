// The weights of a model under their canonical (llama.cpp GGUF) names: blk.N.attn_q.weight, ...
// For a GGUF file every weight is a view into the memory map (no copy). For an HF directory the
// family's ArchSpec::gguf_tensors plans are applied once at load: a plain rename stays a view
// into the safetensors map (F32 / F16 / BF16 are read directly by the kernels); a transformed
// tensor (Llama's q/k permutation, stacked experts) or an FP8 one is converted to f32 and owned.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/model_file.h"
#include "tensor/tensor_view.h"

namespace dragon {

class Weights {
 public:
  // `model` must outlive the Weights (views point into its maps).
  explicit Weights(const OpenedModel& model);

  // Throws dragon::Error naming the tensor if the model has no such weight.
  const TensorView& get(const std::string& name) const;
  const TensorView* find(const std::string& name) const;
  // A small tensor (norm weight, bias) as f32, checking its element count.
  std::vector<float> f32(const std::string& name, int64_t expected_numel) const;

  size_t size() const { return views_.size(); }
  size_t converted_count() const { return owned_.size(); }  // how many were converted at load

 private:
  void add_from_plan(const OpenedModel& model, const GGUFTensorPlan& plan);

  std::map<std::string, TensorView> views_;
  std::vector<std::vector<float>> owned_;  // f32 data of converted tensors (stable buffers)
};

}  // namespace dragon
