// Writing a GGUF file from an ArchSpec's tensor plans: every GGUF tensor is built from its HF
// source tensors (as f32) through the plan's transform, encoded in its type and streamed to
// disk one tensor at a time. Shared by `dragon convert` (sources read from an HF directory) and
// `dragon synth --format gguf` (sources made from a seed), so both write the same layout.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/arch.h"
#include "tensor/dtype.h"

namespace dragon {

class GGUFWriter;

// The f32 values of one HF tensor, by HF name, in HF (row-major) order.
using HFTensorSource = std::function<std::vector<float>(const std::string& hf_name)>;
// Told before tensor `index` of `count` is built (for progress bars).
using TensorProgress = std::function<void(size_t index, size_t count, const GGUFTensorPlan& plan, DType type)>;

// Adds plans[i] to `w` with types[i] (metadata must already be set) and writes `path`.
// Returns the bytes of tensor data written. Throws dragon::Error naming the tensor when a
// transform makes the wrong number of values.
uint64_t write_gguf_from_plans(GGUFWriter& w, const std::string& path, const std::vector<GGUFTensorPlan>& plans,
                               const std::vector<DType>& types, const HFTensorSource& source,
                               const TensorProgress& progress = {});

}  // namespace dragon
