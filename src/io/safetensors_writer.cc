// Writing safetensors files and sharded HF checkpoints, one tensor's bytes in memory at a time.
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/utf8.h"

namespace fs = std::filesystem;

namespace dragon {

namespace {

constexpr const char* kSingleFileName = "model.safetensors";
constexpr const char* kIndexFileName = "model.safetensors.index.json";

std::string shard_file_name(size_t index, size_t count) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

// A file written under a temporary name and renamed over `path` on commit(), so a crash or an
// error mid-write never leaves a truncated model file where a reader would pick it up.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path)
      : path_(std::move(path)), temp_path_(fmt::format("{}.tmp.{}", path_, ::getpid())) {
    file_ = std::fopen(temp_path_.c_str(), "wb");
    if (!file_) fail("{}: cannot create: {}", temp_path_, std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(temp_path_.c_str());
  }

  void write(const void* data, size_t size) {
    if (size != 0 && std::fwrite(data, 1, size, file_) != size)
      fail("{}: write failed: {}", temp_path_, std::strerror(errno));
  }

  void commit() {
    const bool flush_failed = std::fflush(file_) != 0 || std::ferror(file_);
    const int close_result = std::fclose(file_);
    file_ = nullptr;
    if (flush_failed || close_result != 0) fail("{}: write failed: {}", temp_path_, std::strerror(errno));
    std::error_code ec;
    fs::rename(temp_path_, path_, ec);
    if (ec) fail("{}: cannot rename to {}: {}", temp_path_, path_, ec.message());
    committed_ = true;
  }

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Files of an earlier write to `dir` that the layout just written does not use: a single
// model.safetensors next to new shards (or the reverse), an index, shards of another count.
void remove_stale_outputs(const fs::path& dir, const std::set<std::string>& written) {
  static const std::regex kShardPattern(R"(model-\d{5}-of-\d{5}\.safetensors)");
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    const std::string name = item.path().filename().string();
    const bool ours = name == kSingleFileName || name == kIndexFileName || std::regex_match(name, kShardPattern);
    if (ours && !written.count(name)) {
      std::error_code remove_error;
      fs::remove(item.path(), remove_error);
      if (remove_error) fail("{}: cannot remove stale file: {}", item.path().string(), remove_error.message());
    }
  }
}

}  // namespace

void SafetensorsWriter::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  if (name.empty() || name == "__metadata__") fail("safetensors writer: invalid tensor name '{}'", name);
  if (!is_valid_utf8(name)) fail("safetensors writer: tensor '{}': name is not valid UTF-8", escape_for_message(name));
  if (dtype_from_safetensors(dtype_name(dtype)) != dtype)
    fail("safetensors writer: tensor '{}': dtype {} cannot be stored in safetensors", name, dtype_name(dtype));
  if (!names_.insert(name).second) fail("safetensors writer: tensor '{}' added twice", name);
  const std::string what = fmt::format("safetensors writer: tensor '{}'", name);
  const uint64_t nbytes = with_context(what, [&] { return dtype_row_bytes(dtype, checked_numel(shape, what)); });
  tensors_.push_back({name, dtype, std::move(shape), nbytes});
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  if (!is_valid_utf8(key) || !is_valid_utf8(value))
    fail("safetensors writer: metadata '{}': key or value is not valid UTF-8", escape_for_message(key));
  metadata_[key] = value;
}

void SafetensorsWriter::write_file(const std::string& path, const std::vector<size_t>& members,
                                   const Producer& produce) const {
  // Largest element size first (stable): with an 8-byte aligned header every tensor then starts
  // aligned to its element size, with no gaps between tensors.
  std::vector<size_t> order = members;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_info_checked(tensors_[a].dtype).block_bytes > dtype_info_checked(tensors_[b].dtype).block_bytes;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json metadata(metadata_);
  if (!metadata.contains("format")) metadata["format"] = "pt";
  header["__metadata__"] = std::move(metadata);
  uint64_t offset = 0;
  for (size_t i : order) {
    const Info& t = tensors_[i];
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  AtomicFile file(path);
  const uint64_t header_len = header_text.size();  // little-endian on every host dragon targets
  file.write(&header_len, 8);
  file.write(header_text.data(), header_text.size());
  for (size_t i : order) {
    const Info& t = tensors_[i];
    const std::vector<uint8_t> bytes = produce(i);
    if (bytes.size() != t.nbytes)
      fail("{}: tensor '{}': producer returned {} bytes, expected {} for shape {} of {}", path, t.name, bytes.size(),
           t.nbytes, shape_string(t.shape), dtype_name(t.dtype));
    file.write(bytes.data(), bytes.size());
  }
  file.commit();
}

void SafetensorsWriter::write_dir(const std::string& dir, const Producer& produce, uint64_t max_shard_bytes) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create directory: {}", dir, ec.message());

  // Greedy, in add order, as transformers shards a state dict.
  std::vector<std::vector<size_t>> shards(1);
  uint64_t shard_bytes = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const uint64_t nbytes = tensors_[i].nbytes;
    const bool fits = nbytes <= max_shard_bytes && shard_bytes <= max_shard_bytes - nbytes;  // no overflow
    if (!shards.back().empty() && !fits) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(i);
    shard_bytes += nbytes;
  }

  const fs::path dir_path(dir);
  if (shards.size() == 1) {
    write_file((dir_path / kSingleFileName).string(), shards[0], produce);
    remove_stale_outputs(dir_path, {kSingleFileName});
    return;
  }

  std::set<std::string> written;
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total_size = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string name = shard_file_name(s, shards.size());
    write_file((dir_path / name).string(), shards[s], produce);
    written.insert(name);
    for (size_t i : shards[s]) {
      weight_map[tensors_[i].name] = name;
      total_size += tensors_[i].nbytes;
    }
  }
  const nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", std::move(weight_map)}};
  const std::string index_text = index.dump(2) + "\n";
  AtomicFile index_file((dir_path / kIndexFileName).string());
  index_file.write(index_text.data(), index_text.size());
  index_file.commit();
  written.insert(kIndexFileName);
  remove_stale_outputs(dir_path, written);
}

}  // namespace dragon
