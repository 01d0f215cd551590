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

}  // namespace dragon
