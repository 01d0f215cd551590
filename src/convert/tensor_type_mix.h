// Which type each GGUF tensor gets for a `dragon convert --type`: the plain types put every
// weight matrix in one type (as convert_hf_to_gguf.py --outtype does), the k-quant mixes follow
// llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) — for Q4_K_M: the output head Q6_K,
// attn_v / attn_kv_b and ffn_down Q6_K in the first and last eighth of the layers and every
// third one between, the rest Q4_K; rows that do not fit a block fall back (Q4_K -> Q5_0,
// Q6_K -> Q8_0, then F16).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/arch.h"
#include "tensor/dtype.h"

namespace dragon {

struct ConvertType {
  std::string name;        // f32 | f16 | bf16 | q8_0 | q6_k | q4_k_m
  DType base;              // the type most weight matrices get
  uint32_t file_type = 0;  // GGUF general.file_type (llama_ftype)
  bool k_mix = false;      // llama.cpp's per-tensor k-quant rules apply
};

// Throws dragon::Error listing the known names for an unknown one.
ConvertType parse_convert_type(const std::string& name);

// One type per plan, in order. `n_experts` is the config's routed expert count (llama.cpp bumps
// some tensors of 8-expert models).
std::vector<DType> convert_tensor_types(const ConvertType& type, const std::vector<GGUFTensorPlan>& plans,
                                        int64_t n_experts);

}  // namespace dragon
