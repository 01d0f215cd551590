#include "tensor/dtype.h"

#include <array>
#include <cctype>

#include "util/error.h"

namespace dragon {

namespace {

constexpr std::array kInfos = {
    DTypeInfo{DType::F32, "F32", 1, 4},        DTypeInfo{DType::F16, "F16", 1, 2},
    DTypeInfo{DType::Q4_0, "Q4_0", 32, 18},    DTypeInfo{DType::Q4_1, "Q4_1", 32, 20},
    DTypeInfo{DType::Q5_0, "Q5_0", 32, 22},    DTypeInfo{DType::Q5_1, "Q5_1", 32, 24},
    DTypeInfo{DType::Q8_0, "Q8_0", 32, 34},    DTypeInfo{DType::Q8_1, "Q8_1", 32, 36},
    DTypeInfo{DType::Q2_K, "Q2_K", 256, 84},   DTypeInfo{DType::Q3_K, "Q3_K", 256, 110},
    DTypeInfo{DType::Q4_K, "Q4_K", 256, 144},  DTypeInfo{DType::Q5_K, "Q5_K", 256, 176},
    DTypeInfo{DType::Q6_K, "Q6_K", 256, 210},  DTypeInfo{DType::Q8_K, "Q8_K", 256, 292},
    DTypeInfo{DType::IQ2_XXS, "IQ2_XXS", 256, 66}, DTypeInfo{DType::IQ2_XS, "IQ2_XS", 256, 74},
    DTypeInfo{DType::IQ3_XXS, "IQ3_XXS", 256, 98}, DTypeInfo{DType::IQ1_S, "IQ1_S", 256, 50},
    DTypeInfo{DType::IQ4_NL, "IQ4_NL", 32, 18},    DTypeInfo{DType::IQ3_S, "IQ3_S", 256, 110},
    DTypeInfo{DType::IQ2_S, "IQ2_S", 256, 82},     DTypeInfo{DType::IQ4_XS, "IQ4_XS", 256, 136},
    DTypeInfo{DType::I8, "I8", 1, 1},          DTypeInfo{DType::I16, "I16", 1, 2},
    DTypeInfo{DType::I32, "I32", 1, 4},        DTypeInfo{DType::I64, "I64", 1, 8},
    DTypeInfo{DType::F64, "F64", 1, 8},        DTypeInfo{DType::IQ1_M, "IQ1_M", 256, 56},
    DTypeInfo{DType::BF16, "BF16", 1, 2},      DTypeInfo{DType::TQ1_0, "TQ1_0", 256, 54},
    DTypeInfo{DType::TQ2_0, "TQ2_0", 256, 66}, DTypeInfo{DType::MXFP4, "MXFP4", 32, 17},
    DTypeInfo{DType::F8_E4M3, "F8_E4M3", 1, 1}, DTypeInfo{DType::F8_E5M2, "F8_E5M2", 1, 1},
    DTypeInfo{DType::U8, "U8", 1, 1},          DTypeInfo{DType::BOOL, "BOOL", 1, 1},
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

const DTypeInfo* dtype_info(DType type) {
  for (const auto& info : kInfos)
    if (info.type == type) return &info;
  return nullptr;
}

const DTypeInfo& dtype_info_checked(DType type) {
  const DTypeInfo* info = dtype_info(type);
  if (!info) fail("unknown tensor type id {}", static_cast<uint32_t>(type));
  return *info;
}

std::optional<DType> dtype_from_ggml_id(uint32_t id) {
  if (id >= 1000) return std::nullopt;
  const DTypeInfo* info = dtype_info(static_cast<DType>(id));
  if (!info) return std::nullopt;
  return info->type;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kInfos)
    if (iequals(info.name, name)) return info.type;
  return std::nullopt;
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  static constexpr std::array kAllowed = {DType::F32, DType::F16, DType::BF16, DType::F64,
                                          DType::I8,  DType::I16, DType::I32,  DType::I64,
                                          DType::U8,  DType::BOOL, DType::F8_E4M3, DType::F8_E5M2};
  for (DType t : kAllowed)
    if (dtype_info(t)->name == name) return t;
  return std::nullopt;
}

std::string_view dtype_name(DType type) {
  const DTypeInfo* info = dtype_info(type);
  return info ? info->name : std::string_view("UNKNOWN");
}

uint64_t dtype_row_bytes(DType type, int64_t n_elems) {
  const DTypeInfo& info = dtype_info_checked(type);
  if (n_elems < 0) fail("negative element count {}", n_elems);
  if (n_elems % info.block_elems != 0)
    fail("{} elements is not a multiple of the {} block size {}", n_elems, info.name, info.block_elems);
  uint64_t blocks = static_cast<uint64_t>(n_elems / info.block_elems);
  uint64_t bytes;
  if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(info.block_bytes), &bytes))
    fail("{} elements of {}: byte size overflows", n_elems, info.name);
  return bytes;
}

bool dtype_is_quantized(DType type) {
  const DTypeInfo* info = dtype_info(type);
  return info && info->block_elems > 1;
}

}  // namespace dragon
