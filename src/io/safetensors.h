// Hugging Face safetensors: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data. Sharded checkpoints add model.safetensors.index.json {"weight_map": {name: file}}.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor_view.h"
#include "util/mapped_file.h"

namespace dragon {

class SafetensorsFile {
 public:
  // Maps and validates `path`: header length within the file and bounded, valid UTF-8 JSON,
  // known dtypes, offsets inside the data section, byte size equal to shape x dtype, no two
  // tensors overlapping, no duplicate names. Throws dragon::Error naming file, tensor, offset.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
  const TensorView* find_tensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes safetensors files, streaming tensor bytes like GGUFWriter.
class SafetensorsWriter {
 public:
  void add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape);
  void set_metadata(const std::string& key, const std::string& value);
  using Producer = std::function<std::vector<uint8_t>(size_t index)>;
  // Writes one file, or — if the tensors exceed `max_shard_bytes` — shards named
  // model-00001-of-0000N.safetensors plus model.safetensors.index.json, into directory `dir`.
  // A single file is named model.safetensors.
  void write_dir(const std::string& dir, const Producer& produce,
                 uint64_t max_shard_bytes = UINT64_MAX) const;

 private:
  struct Info { std::string name; DType dtype; std::vector<int64_t> shape; uint64_t nbytes; };
  std::vector<Info> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace dragon
