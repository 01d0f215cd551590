// GGUFWriter: GGUF v3 files in the layout gguf-py writes (metadata in insertion order, tensor
// data aligned and padded after every tensor), streamed tensor by tensor into a temporary file
// that is renamed into place only once everything was written.
#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "io/gguf.h"
#include "util/error.h"
#include "util/utf8.h"

namespace dragon {

namespace {

constexpr uint32_t kVersion = 3;
constexpr size_t kMaxDims = 4;
constexpr size_t kMaxTensorName = 63;  // llama.cpp's GGML_MAX_NAME (64) minus the terminator
constexpr uint64_t kDefaultAlignment = 32;

// Appends `bytes` little-endian bytes of `v` (endian-independent).
void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u32(std::string& out, uint32_t v) { put_le(out, v, 4); }
void put_u64(std::string& out, uint64_t v) { put_le(out, v, 8); }
void put_string(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

int scalar_bytes(GGUFType t) {
  switch (t) {
    case GGUFType::UINT8: case GGUFType::INT8: case GGUFType::BOOL: return 1;
    case GGUFType::UINT16: case GGUFType::INT16: return 2;
    case GGUFType::UINT32: case GGUFType::INT32: case GGUFType::FLOAT32: return 4;
    case GGUFType::UINT64: case GGUFType::INT64: case GGUFType::FLOAT64: return 8;
    case GGUFType::STRING: case GGUFType::ARRAY: break;
  }
  return 0;
}

// A value without its type tag (array elements carry none; the array header names their type).
void put_value_body(std::string& out, const GGUFValue& v) {
  switch (v.type()) {
    case GGUFType::STRING: put_string(out, v.as_string()); return;
    case GGUFType::ARRAY: {
      put_u32(out, static_cast<uint32_t>(v.element_type()));
      put_u64(out, v.as_array().size());
      for (const GGUFValue& e : v.as_array()) put_value_body(out, e);
      return;
    }
    default: put_le(out, v.raw_bits(), scalar_bytes(v.type()));
  }
}

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

void check_name(std::string_view name, std::string_view kind) {
  if (name.empty()) fail("GGUF {}: empty name", kind);
  const size_t bad = find_invalid_utf8(name);
  if (bad != std::string_view::npos)
    fail("GGUF {} '{}': invalid UTF-8 at byte {}", kind, escape_for_message(name), bad);
}

// The output file: written under a temporary name, removed unless commit() renamed it into place.
class TempFile {
 public:
  explicit TempFile(const std::string& final_path) : final_path_(final_path) {
    const std::filesystem::path p(final_path);
    temp_path_ = (p.parent_path() / fmt::format(".{}.tmp-{}", p.filename().string(), ::getpid())).string();
    file_ = std::fopen(temp_path_.c_str(), "wb");
    if (!file_) fail("{}: cannot create {}: {}", final_path_, temp_path_, std::strerror(errno));
  }
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(temp_path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t n) {
    if (n && std::fwrite(data, 1, n, file_) != n)
      fail("{}: write failed at offset {}: {}", final_path_, written_, std::strerror(errno));
    written_ += n;
  }
  void pad_to(uint64_t alignment) {
    static const char zeros[256] = {};
    uint64_t pad = align_up(written_, alignment) - written_;
    while (pad) {
      const size_t n = pad < sizeof zeros ? pad : sizeof zeros;
      write(zeros, n);
      pad -= n;
    }
  }
  uint64_t written() const { return written_; }

  void commit() {
    FILE* f = std::exchange(file_, nullptr);
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) {
      const int err = errno;
      std::fclose(f);
      fail("{}: cannot flush {}: {}", final_path_, temp_path_, std::strerror(err));
    }
    if (std::fclose(f) != 0) fail("{}: cannot close {}: {}", final_path_, temp_path_, std::strerror(errno));
    std::error_code ec;
    std::filesystem::rename(temp_path_, final_path_, ec);
    if (ec) fail("{}: cannot rename {} into place: {}", final_path_, temp_path_, ec.message());
    committed_ = true;
  }

 private:
  std::string final_path_;
  std::string temp_path_;
  FILE* file_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace

void GGUFWriter::set(const std::string& key, GGUFValue value) {
  check_name(key, "key");
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

void GGUFWriter::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  check_name(name, "tensor");
  if (name.size() > kMaxTensorName)
    fail("GGUF tensor '{}': name is {} bytes, llama.cpp reads at most {}", name, name.size(), kMaxTensorName);
  for (const Info& t : tensors_)
    if (t.name == name) fail("GGUF tensor '{}': added twice", name);
  if (static_cast<uint32_t>(dtype) >= 1000 || !dtype_info(dtype))
    fail("GGUF tensor '{}': dtype {} cannot be stored in GGUF", name, dtype_name(dtype));
  if (shape.size() > kMaxDims)
    fail("GGUF tensor '{}': shape {} has more than {} dimensions", name, shape_string(shape), kMaxDims);
  for (int64_t d : shape)
    if (d <= 0) fail("GGUF tensor '{}': shape {} has a dimension <= 0", name, shape_string(shape));
  const std::string what = fmt::format("GGUF tensor '{}'", name);
  const int64_t numel = checked_numel(shape, what);
  const int64_t row = shape.empty() ? 1 : shape.back();
  const uint64_t row_bytes = with_context(what, [&] { return dtype_row_bytes(dtype, row); });
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(row_bytes, static_cast<uint64_t>(numel / row), &nbytes))
    fail("{}: byte size of shape {} overflows", what, shape_string(shape));
  tensors_.push_back(Info{name, dtype, std::move(shape), nbytes});
}

void GGUFWriter::write(const std::string& path, const Producer& produce) const {
  if (alignment_ == 0 || !std::has_single_bit(alignment_))
    fail("{}: GGUF alignment {} is not a nonzero power of two", path, alignment_);

  // general.alignment must agree with the layout actually written; it is added when not default.
  auto metadata = metadata_;
  bool has_alignment_key = false;
  for (const auto& [k, v] : metadata)
    if (k == "general.alignment") {
      has_alignment_key = true;
      const GGUFValue& value = v;  // clang 14 cannot capture a structured binding
      const int64_t a = with_context(path + ": key general.alignment", [&] { return value.as_int(); });
      if (a != static_cast<int64_t>(alignment_))
        fail("{}: key general.alignment is {} but the writer aligns to {}", path, a, alignment_);
    }
  if (!has_alignment_key && alignment_ != kDefaultAlignment)
    metadata.emplace_back("general.alignment", GGUFValue::u32(alignment_));

  std::string header;
  put_u32(header, 0x46554747);  // "GGUF"
  put_u32(header, kVersion);
  put_u64(header, tensors_.size());
  put_u64(header, metadata.size());
  for (const auto& [key, value] : metadata) {
    put_string(header, key);
    put_u32(header, static_cast<uint32_t>(value.type()));
    put_value_body(header, value);
  }
  uint64_t offset = 0;  // relative to the data section; every tensor starts aligned
  for (const Info& t : tensors_) {
    put_string(header, t.name);
    put_u32(header, static_cast<uint32_t>(t.shape.size()));
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) put_u64(header, static_cast<uint64_t>(*d));
    put_u32(header, static_cast<uint32_t>(t.dtype));
    put_u64(header, offset);
    offset += align_up(t.nbytes, alignment_);
  }

  TempFile out(path);
  out.write(header.data(), header.size());
  out.pad_to(alignment_);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const std::vector<uint8_t> bytes = produce(i);
    if (bytes.size() != tensors_[i].nbytes)
      fail("{}: tensor '{}': producer returned {} bytes, expected {} ({} {})", path, tensors_[i].name, bytes.size(),
           tensors_[i].nbytes, dtype_name(tensors_[i].dtype), shape_string(tensors_[i].shape));
    out.write(bytes.data(), bytes.size());
    out.pad_to(alignment_);
  }
  out.commit();
}

}  // namespace dragon
