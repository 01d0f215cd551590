// The interface every model family implements, and the registry from ModelConfig.arch to the
// family's builder (src/models/model_registry.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "kernels/thread_pool.h"
#include "models/model_file.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"

namespace dragon {

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // Runs the batch through the model, appending its keys / values to `cache`. Returns one row of
  // vocab_size logits per token whose want_logits is set, in batch order.
  virtual Activations forward(const Batch& batch, KVCache& cache, ThreadPool& pool) = 0;
};

// Builds the model for an opened file or directory (taking ownership of it). Throws
// dragon::Error for an architecture without a forward pass ("... known: qwen3, ...").
std::unique_ptr<Model> build_model(OpenedModel opened);
std::vector<std::string> supported_architectures();

}  // namespace dragon
