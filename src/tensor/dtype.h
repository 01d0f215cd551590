// Element types of tensors in model files. Values below 1000 are GGML's type ids as stored in
// GGUF files; the others are safetensors-only dtypes that dragon converts at load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dragon {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
  // safetensors-only
  F8_E4M3 = 1000, F8_E5M2 = 1001, U8 = 1002, BOOL = 1003,
};

// Storage layout: `block_elems` elements are stored in `block_bytes` bytes (1 and sizeof(T) for
// plain types; 32 or 256 elements for GGML's quantized blocks).
struct DTypeInfo {
  DType type;
  std::string_view name;  // GGUF / gguf-py spelling: "F32", "Q4_K", "BF16", "F8_E4M3", ...
  int64_t block_elems;
  int64_t block_bytes;
};

// Info for a known dtype; nullptr for an id dragon does not know (e.g. read from a bad file).
const DTypeInfo* dtype_info(DType type);
const DTypeInfo& dtype_info_checked(DType type);  // throws dragon::Error if unknown

// Parse GGML's numeric id (from a GGUF tensor info) — nullopt if unknown.
std::optional<DType> dtype_from_ggml_id(uint32_t id);
// Parse a name as printed by dtype_name ("q8_0" and "Q8_0" both work) — nullopt if unknown.
std::optional<DType> dtype_from_name(std::string_view name);
// Parse a safetensors header dtype ("F32", "BF16", "F8_E4M3", "I8", "U8", ...).
std::optional<DType> dtype_from_safetensors(std::string_view name);
std::string_view dtype_name(DType type);

// Bytes needed for `n_elems` elements of a row; throws dragon::Error if n_elems is not a
// multiple of the block size or the result overflows.
uint64_t dtype_row_bytes(DType type, int64_t n_elems);

bool dtype_is_quantized(DType type);  // a block type of more than one element

}  // namespace dragon
