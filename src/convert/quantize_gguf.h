// GGUF -> GGUF requantization: every weight matrix re-encoded to one type, everything else
// (norms, metadata, tokenizer) copied.
#pragma once

#include <string>

#include "tensor/dtype.h"

namespace dragon::convert {

struct QuantizeReport {
  int64_t tensors = 0, requantized = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

// Like llama.cpp's quantizer: tensors with 2+ dimensions whose name ends in "weight" get
// `type` (or its fallback for row lengths that are not a multiple of the block,
// gguf_tensor_type); 1-D tensors stay F32. Sources are dequantized first, so quantizing
// an F32 GGUF gives the same bytes as writing the type directly.
QuantizeReport quantize_gguf(const std::string& in, const std::string& out, DType type);

}  // namespace dragon::convert
