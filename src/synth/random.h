// Deterministic random weights for synthetic models. Counter-based: element i of a tensor is a
// pure function of (seed, tensor name, i), so any tensor — or any slice of it — can be made on
// its own, in any order, and the HF and GGUF files of one seed hold the same numbers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "models/arch.h"

namespace dragon {

// The stream key of one tensor: a hash of the seed and the HF tensor name.
uint64_t tensor_stream_key(uint64_t seed, std::string_view name);

// Writes N(0, 1) samples for elements [first, first + n) of the stream `key`.
void fill_standard_normal(uint64_t key, int64_t first, int64_t n, float* out);

// The f32 values of an HF tensor of a synthetic model (HF shape, row-major), per its Init.
std::vector<float> synth_tensor_values(const HFTensorSpec& spec, uint64_t seed);

}  // namespace dragon
