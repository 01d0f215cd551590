#include "convert/tensor_type_mix.h"

#include <algorithm>
#include <cstdio>

#include "util/error.h"

namespace dragon {

namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama.cpp's tensor_allows_quantization, for the names dragon's plans produce.
bool llama_quantizes(const GGUFTensorPlan& p) {
  return p.quantizable && p.shape.size() >= 2 && p.name.ends_with("weight") && !contains(p.name, "_norm.weight") &&
         !contains(p.name, "ffn_gate_inp.weight");
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

int block_index(const std::string& name) {
  int i = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &i) != 1) return -1;
  return i;
}

// llama.cpp's tensor_type_fallback for rows (ne[0] = the innermost dim) that are not a multiple
// of the block.
DType fallback(DType type, int64_t cols) {
  if (cols % dtype_info_checked(type).block_elems == 0) return type;
  DType next = type;
  if (type == DType::Q4_K) next = DType::Q5_0;
  else if (type == DType::Q5_K) next = DType::Q5_1;
  else if (type == DType::Q6_K) next = DType::Q8_0;
  return cols % dtype_info_checked(next).block_elems == 0 ? next : DType::F16;
}

}  // namespace

ConvertType parse_convert_type(const std::string& name) {
  if (name == "f32") return {name, DType::F32, 0, false};
  if (name == "f16") return {name, DType::F16, 1, false};
  if (name == "bf16") return {name, DType::BF16, 32, false};
  if (name == "q8_0") return {name, DType::Q8_0, 7, false};
  if (name == "q6_k") return {name, DType::Q6_K, 18, true};
  if (name == "q4_k_m") return {name, DType::Q4_K, 15, true};
  fail("--type {}: expected f32, f16, bf16, q8_0, q6_k or q4_k_m", name);
}

std::vector<DType> convert_tensor_types(const ConvertType& type, const std::vector<GGUFTensorPlan>& plans,
                                        int64_t n_experts) {
  // Counters as llama.cpp's quantize_state_impl keeps them, over the tensors in file order.
  int n_attention_wv = 0, i_attention_wv = 0, i_ffn_down = 0, n_layers = 0;
  bool tied = true;
  for (const GGUFTensorPlan& p : plans) {
    if (contains(p.name, "attn_v.weight") || contains(p.name, "attn_qkv.weight") || contains(p.name, "attn_kv_b.weight"))
      ++n_attention_wv;
    if (p.name == "output.weight") tied = false;
    n_layers = std::max(n_layers, block_index(p.name) + 1);
  }
  const bool q4_k_m = type.name == "q4_k_m";

  std::vector<DType> types;
  for (const GGUFTensorPlan& p : plans) {
    if (!llama_quantizes(p)) {
      types.push_back(DType::F32);
      continue;
    }
    const int64_t cols = p.shape.back();
    if (!type.k_mix) {
      // convert_hf_to_gguf.py's --outtype: one type; Q8_0 rows that do not fit fall back to F16.
      types.push_back(type.base == DType::Q8_0 && cols % 32 != 0 ? DType::F16 : type.base);
      continue;
    }
    DType t = type.base;
    const std::string& name = p.name;
    if (name == "output.weight" || (tied && name == "token_embd.weight")) {
      t = cols % 256 != 0 ? DType::Q8_0 : DType::Q6_K;
    } else if (name == "token_embd.weight") {
      // the base type
    } else if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") ||
               contains(name, "attn_v.weight")) {
      if (q4_k_m && use_more_bits(i_attention_wv, n_attention_wv)) t = DType::Q6_K;
      if (n_experts == 8) t = DType::Q8_0;
      ++i_attention_wv;
    } else if (contains(name, "attn_k.weight")) {
      if (n_experts == 8) t = DType::Q8_0;
    } else if (contains(name, "ffn_down")) {
      // Layer from the counter for dense models, from the name for MoE ones (as llama.cpp).
      const int i_layer = n_experts > 1 ? block_index(name) : i_ffn_down;
      if (q4_k_m && use_more_bits(i_layer, n_layers)) t = DType::Q6_K;
      ++i_ffn_down;
    } else if (contains(name, "attn_output.weight")) {
      if (q4_k_m && n_experts == 8) t = DType::Q5_K;
    }
    types.push_back(fallback(t, cols));
  }
  return types;
}

}  // namespace dragon
