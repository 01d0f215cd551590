// Hugging Face safetensors: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data. Sharded checkpoints add model.safetensors.index.json {"weight_map": {name: file}}.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
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
  // Gaps between tensors are tolerated (the reference reader is stricter). Views point into the
  // map: their data is aligned to the element size only if the writer laid the file out so
  // (SafetensorsWriter and the reference writer do) — read through memcpy if unsure.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
  const TensorView* find_tensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}
  void parse_header();
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_by_name_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Largest JSON header accepted (the reference implementation's limit): a corrupt length field
// must not make us parse gigabytes.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Writes safetensors files, streaming tensor bytes like GGUFWriter. Like the reference
// implementation, the header is padded with spaces to a multiple of 8 bytes and the tensors of a
// file are laid out largest element size first (stable), so every tensor starts aligned to its
// element size while staying contiguous (the reference reader rejects gaps). Each file is written
// to a temporary name and renamed into place; stale model.safetensors / index / shard files of an
// earlier write to `dir` that the new layout does not use are removed. "__metadata__" gets
// {"format": "pt"} unless set_metadata("format", ..) was called (transformers requires it).
class SafetensorsWriter {
 public:
  // Throws dragon::Error on a duplicate or invalid UTF-8 name, a dtype safetensors cannot hold
  // (GGML block types) or an overflowing shape.
  void add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape);
  void set_metadata(const std::string& key, const std::string& value);  // both valid UTF-8
  using Producer = std::function<std::vector<uint8_t>(size_t index)>;
  // Writes one file, or — if the tensors exceed `max_shard_bytes` — shards named
  // model-00001-of-0000N.safetensors plus model.safetensors.index.json, into directory `dir`.
  // A single file is named model.safetensors. Shards are filled greedily in add_tensor order
  // (tensor data bytes only; a tensor larger than the limit gets a shard of its own).
  // `produce(i)` must return exactly the bytes of the i-th added tensor; it is called once per
  // tensor, so only one tensor's bytes are held in memory at a time.
  void write_dir(const std::string& dir, const Producer& produce,
                 uint64_t max_shard_bytes = UINT64_MAX) const;

 private:
  struct Info { std::string name; DType dtype; std::vector<int64_t> shape; uint64_t nbytes; };
  void write_file(const std::string& path, const std::vector<size_t>& members, const Producer& produce) const;
  std::vector<Info> tensors_;
  std::set<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace dragon
