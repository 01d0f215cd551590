// The builders of the families that have a forward pass, one per file (qwen3.cc, ...). The
// registry in model_registry.cc maps ModelConfig.arch onto them.
#pragma once

#include <memory>

#include "runtime/model.h"

namespace dragon {

std::unique_ptr<Model> build_qwen3(OpenedModel opened);
std::unique_ptr<Model> build_qwen2(OpenedModel opened);
std::unique_ptr<Model> build_llama(OpenedModel opened);
std::unique_ptr<Model> build_ernie4_5(OpenedModel opened);
std::unique_ptr<Model> build_glm4(OpenedModel opened);
std::unique_ptr<Model> build_baichuan(OpenedModel opened);
std::unique_ptr<Model> build_qwen3moe(OpenedModel opened);
std::unique_ptr<Model> build_deepseek(OpenedModel opened);
std::unique_ptr<Model> build_ernie4_5_moe(OpenedModel opened);
std::unique_ptr<Model> build_glm4moe(OpenedModel opened);
std::unique_ptr<Model> build_minimax_m2(OpenedModel opened);
std::unique_ptr<Model> build_hunyuan_moe(OpenedModel opened);
std::unique_ptr<Model> build_qwen3next(OpenedModel opened);  // Gated DeltaNet hybrid + MoE
std::unique_ptr<Model> build_kimi_linear(OpenedModel opened);  // KDA + MLA (NoPE) hybrid + MoE
std::unique_ptr<Model> build_kimi_k3(OpenedModel opened);      // + attention residuals, latent MoE, SiTU
std::unique_ptr<Model> build_qwen35(OpenedModel opened);     // qwen35 / qwen35moe: Qwen3.5 dense and MoE
std::unique_ptr<Model> build_minimax01(OpenedModel opened);  // lightning attention hybrid + MoE
std::unique_ptr<Model> build_deepseek2(OpenedModel opened);  // MLA + DeepSeekMoE (V2, V3, Kimi K2; V3.2, GLM-5 with DSA)
std::unique_ptr<Model> build_hy_v3(OpenedModel opened);      // Tencent Hy3
std::unique_ptr<Model> build_hy_v4(OpenedModel opened);      // Tencent Hy4
std::unique_ptr<Model> build_minimax_m3(OpenedModel opened); // MiniMax-M3: GQA + MSA sparse attention + MoE

// The plain llama block (llama.cc) that Llama, Qwen2 and ERNIE 4.5 dense share. With
// `converter_permuted_qk` the q/k rows are in llama.cpp's permuted layout, so rope pairs adjacent
// values whatever the config says; otherwise the config's rope style applies as stored.
std::unique_ptr<Model> build_llama_block(OpenedModel opened, bool converter_permuted_qk);
// The same block with a MoE FFN (models/moe.h) in every layer ModelConfig::layer_is_moe names and
// the dense SwiGLU MLP in the others (deepseek.cc): DeepSeek-MoE and ERNIE-4.5-MoE.
std::unique_ptr<Model> build_llama_moe_block(OpenedModel opened, bool converter_permuted_qk);

}  // namespace dragon
