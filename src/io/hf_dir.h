// A Hugging Face model directory: config.json (+ generation_config.json), the weights in one
// model.safetensors or in shards listed by model.safetensors.index.json, and the tokenizer files.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.h"

namespace dragon {

class HFDirectory {
 public:
  // Opens `dir`: parses config.json (required) and generation_config.json (optional), maps every
  // safetensors shard. Throws dragon::Error naming the file at fault: missing config.json, bad JSON,
  // an index that names a missing shard or a tensor absent from its shard, a tensor in two shards.
  static std::unique_ptr<HFDirectory> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  const nlohmann::json& generation_config() const { return generation_config_; }  // {} if absent
  // All tensors of all shards, by HF name.
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  std::string dir_;
  nlohmann::json config_;
  nlohmann::json generation_config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, TensorView> tensors_;
};

// True if `path` is a directory holding config.json.
bool is_hf_directory(const std::string& path);

}  // namespace dragon
