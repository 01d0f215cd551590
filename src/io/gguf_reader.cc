// GGUFFile: parses a memory-mapped GGUF v2/v3 file. Every count, length and offset comes from an
// untrusted file, so each is checked against the bytes that remain BEFORE anything is allocated:
// a corrupt file gives one dragon::Error naming the file, the key or tensor and the offset.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "io/gguf.h"
#include "util/error.h"
#include "util/utf8.h"

namespace dragon {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr int kMaxArrayDepth = 8;        // real files nest at most once; this stops stack abuse
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
// Smallest possible encodings, used to cap counts by the bytes left in the file.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;      // key length, value type, a one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset

// Reads little-endian values from the mapped bytes. `what` says what is being read
// ("key 'general.name'"); failures name the file, `what`, and the offset.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  const uint8_t* take(uint64_t n, std::string_view what) {
    if (n > remaining())
      fail("{}: {}: {} bytes at offset {} past end of file (size {})", path_, what, n, pos_, size_);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T read(std::string_view what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }

  std::string_view read_string(std::string_view what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail("{}: {}: string length {} at offset {} past end of file ({} bytes remain)", path_, what, len, at,
           remaining());
    return {reinterpret_cast<const char*>(take(len, what)), len};
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

bool is_known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GGUFType::FLOAT64); }

// Bytes the smallest element of this type takes (caps array counts).
uint64_t min_encoded_size(GGUFType t) {
  switch (t) {
    case GGUFType::UINT8: case GGUFType::INT8: case GGUFType::BOOL: return 1;
    case GGUFType::UINT16: case GGUFType::INT16: return 2;
    case GGUFType::UINT32: case GGUFType::INT32: case GGUFType::FLOAT32: return 4;
    case GGUFType::UINT64: case GGUFType::INT64: case GGUFType::FLOAT64: return 8;
    case GGUFType::STRING: return 8;   // the length
    case GGUFType::ARRAY: return 12;   // element type + count
  }
  return 1;
}

GGUFType read_value_type(Cursor& c, std::string_view what, std::string_view role) {
  const uint64_t at = c.offset();
  const uint32_t t = c.read<uint32_t>(what);
  if (!is_known_value_type(t)) fail("{}: {}: unknown {} {} at offset {}", c.path(), what, role, t, at);
  return static_cast<GGUFType>(t);
}

GGUFValue read_value(Cursor& c, GGUFType type, int depth, std::string_view what);

// An array body: element type, count, elements. Nested arrays repeat this for each element.
GGUFValue read_array(Cursor& c, int depth, std::string_view what) {
  if (depth >= kMaxArrayDepth)
    fail("{}: {}: arrays nested deeper than {} at offset {}", c.path(), what, kMaxArrayDepth, c.offset());
  const GGUFType element_type = read_value_type(c, what, "array element type");
  const uint64_t count_at = c.offset();
  const uint64_t count = c.read<uint64_t>(what);
  if (count > c.remaining() / min_encoded_size(element_type))
    fail("{}: {}: array count {} at offset {} past end of file ({} bytes remain)", c.path(), what, count, count_at,
         c.remaining());
  std::vector<GGUFValue> elements;
  elements.reserve(count);
  for (uint64_t i = 0; i < count; ++i) elements.push_back(read_value(c, element_type, depth + 1, what));
  return GGUFValue::array(element_type, std::move(elements));
}

GGUFValue read_value(Cursor& c, GGUFType type, int depth, std::string_view what) {
  switch (type) {
    case GGUFType::UINT8: return GGUFValue::u8(c.read<uint8_t>(what));
    case GGUFType::INT8: return GGUFValue::i8(c.read<int8_t>(what));
    case GGUFType::UINT16: return GGUFValue::u16(c.read<uint16_t>(what));
    case GGUFType::INT16: return GGUFValue::i16(c.read<int16_t>(what));
    case GGUFType::UINT32: return GGUFValue::u32(c.read<uint32_t>(what));
    case GGUFType::INT32: return GGUFValue::i32(c.read<int32_t>(what));
    case GGUFType::UINT64: return GGUFValue::u64(c.read<uint64_t>(what));
    case GGUFType::INT64: return GGUFValue::i64(c.read<int64_t>(what));
    case GGUFType::FLOAT32: return GGUFValue::f32(c.read<float>(what));
    case GGUFType::FLOAT64: return GGUFValue::f64(c.read<double>(what));
    case GGUFType::BOOL: return GGUFValue::boolean(c.read<uint8_t>(what) != 0);
    case GGUFType::STRING: return GGUFValue::str(std::string(c.read_string(what)));
    case GGUFType::ARRAY: return read_array(c, depth, what);
  }
  fail("{}: {}: unknown value type {}", c.path(), what, static_cast<uint32_t>(type));
}

// Names read from the file are checked to be UTF-8 before they go into messages or maps.
void check_utf8(const Cursor& c, std::string_view name, std::string_view kind, uint64_t at) {
  const size_t bad = find_invalid_utf8(name);
  if (bad != std::string_view::npos)
    fail("{}: {} '{}' at offset {}: invalid UTF-8 at byte {}", c.path(), kind, escape_for_message(name), at, bad);
}

// A tensor as described by its info record, before its data range is known.
struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;  // outermost first
  uint64_t offset;             // relative to the data section
  uint64_t nbytes;
};

TensorInfo read_tensor_info(Cursor& c, uint64_t index, uint64_t alignment) {
  TensorInfo t;
  const uint64_t name_at = c.offset();
  t.name = std::string(c.read_string(fmt::format("tensor info {} name", index)));
  check_utf8(c, t.name, "tensor name", name_at);
  const std::string what = fmt::format("tensor '{}'", escape_for_message(t.name));

  const uint64_t dims_at = c.offset();
  const uint32_t n_dims = c.read<uint32_t>(what);
  if (n_dims > kMaxDims)
    fail("{}: {}: {} dimensions at offset {} (GGUF allows at most {})", c.path(), what, n_dims, dims_at, kMaxDims);
  std::vector<int64_t> ne(n_dims);  // innermost first, as stored
  int64_t numel = 1;
  for (uint32_t j = 0; j < n_dims; ++j) {
    const uint64_t at = c.offset();
    const uint64_t d = c.read<uint64_t>(what);
    if (d == 0 || d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("{}: {}: dimension {} is {} at offset {} (must be positive)", c.path(), what, j, static_cast<int64_t>(d),
           at);
    ne[j] = static_cast<int64_t>(d);
    if (__builtin_mul_overflow(numel, ne[j], &numel))
      fail("{}: {}: element count of dims {} overflows int64 at offset {}", c.path(), what, shape_string(ne), at);
  }
  t.shape.assign(ne.rbegin(), ne.rend());

  const uint64_t type_at = c.offset();
  const uint32_t type_id = c.read<uint32_t>(what);
  const auto dtype = dtype_from_ggml_id(type_id);
  if (!dtype) fail("{}: {}: unknown GGML type id {} at offset {}", c.path(), what, type_id, type_at);
  t.dtype = *dtype;

  const int64_t row = n_dims ? ne[0] : 1;
  const uint64_t row_bytes =
      with_context(fmt::format("{}: {} (shape {})", c.path(), what, shape_string(t.shape)),
                   [&] { return dtype_row_bytes(t.dtype, row); });
  if (__builtin_mul_overflow(row_bytes, static_cast<uint64_t>(numel / row), &t.nbytes))
    fail("{}: {}: byte size of shape {} overflows", c.path(), what, shape_string(t.shape));

  const uint64_t offset_at = c.offset();
  t.offset = c.read<uint64_t>(what);
  if (t.offset % alignment != 0)
    fail("{}: {}: data offset {} (at offset {}) is not aligned to {}", c.path(), what, t.offset, offset_at, alignment);
  return t;
}

}  // namespace

std::unique_ptr<GGUFFile> GGUFFile::open(const std::string& path) {
  std::unique_ptr<GGUFFile> file(new GGUFFile(MappedFile(path)));
  file->parse();
  return file;
}

const GGUFValue* GGUFFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GGUFValue& GGUFFile::get(std::string_view key) const {
  const GGUFValue* v = find(key);
  if (!v) fail("{}: missing key {}", path(), key);
  return *v;
}

const TensorView* GGUFFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GGUFFile::parse() {
  Cursor c(path(), file_.data(), file_.size());

  // Header.
  const uint32_t magic = c.read<uint32_t>("header (magic)");
  if (magic != kMagic)
    fail("{}: not a GGUF file: bad magic '{}' at offset 0 (expected 'GGUF')", path(),
         escape_for_message({reinterpret_cast<const char*>(file_.data()), 4}));
  version_ = c.read<uint32_t>("header (version)");
  if (version_ == 1) fail("{}: GGUF version 1 at offset 4 is not supported (only versions 2 and 3)", path());
  if (version_ == 0x02000000 || version_ == 0x03000000)
    fail("{}: big-endian GGUF (version field {:#010x} at offset 4) is not supported", path(), version_);
  if (version_ != 2 && version_ != 3)
    fail("{}: unsupported GGUF version {} at offset 4 (only versions 2 and 3)", path(), version_);
  const uint64_t n_tensors = c.read<uint64_t>("header (tensor count)");
  const uint64_t n_kv = c.read<uint64_t>("header (metadata count)");
  if (n_kv > c.remaining() / kMinKeyValueBytes)
    fail("{}: metadata count {} at offset 16 past end of file ({} bytes remain)", path(), n_kv, c.remaining());
  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    fail("{}: tensor count {} at offset 8 past end of file ({} bytes remain)", path(), n_tensors, c.remaining());

  // Metadata.
  metadata_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = c.offset();
    std::string key(c.read_string(fmt::format("metadata entry {} key", i)));
    check_utf8(c, key, "key", key_at);
    const std::string what = fmt::format("key '{}'", escape_for_message(key));
    if (key_index_.count(key)) fail("{}: duplicate {} at offset {}", path(), what, key_at);
    const GGUFType type = read_value_type(c, what, "value type");
    GGUFValue value = read_value(c, type, 0, what);
    key_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GGUFValue* a = find("general.alignment")) {
    const int64_t alignment =
        with_context(fmt::format("{}: key 'general.alignment'", path()), [&] { return a->as_int(); });
    if (alignment <= 0 || !std::has_single_bit(static_cast<uint64_t>(alignment)))
      fail("{}: key 'general.alignment': alignment {} is not a nonzero power of two", path(), alignment);
    alignment_ = static_cast<uint64_t>(alignment);
  }

  // Tensor infos.
  std::vector<TensorInfo> infos;
  infos.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t info_at = c.offset();
    TensorInfo t = read_tensor_info(c, i, alignment_);
    if (!tensor_index_.emplace(t.name, infos.size()).second)
      fail("{}: duplicate tensor name '{}' at offset {}", path(), escape_for_message(t.name), info_at);
    infos.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t padding = (alignment_ - c.offset() % alignment_) % alignment_;
  if (__builtin_add_overflow(c.offset(), padding, &data_offset_))
    fail("{}: data section offset overflows (alignment {})", path(), alignment_);

  tensors_.reserve(infos.size());
  for (auto& t : infos) {
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(data_offset_, t.offset, &begin) || __builtin_add_overflow(begin, t.nbytes, &end) ||
        end > file_.size())
      fail("{}: tensor '{}': {} bytes of data at offset {} (data section {} + {}) past end of file (size {})", path(),
           escape_for_message(t.name), t.nbytes, begin, data_offset_, t.offset, file_.size());
    tensors_.push_back(TensorView{std::move(t.name), t.dtype, std::move(t.shape), file_.data() + begin, t.nbytes});
  }

  // Overlap check: sort by start, then each tensor must begin at or after the previous one's end.
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].data < tensors_[b].data; });
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorView& prev = tensors_[order[k - 1]];
    const TensorView& cur = tensors_[order[k]];
    if (cur.data < prev.data + prev.nbytes)
      fail("{}: tensors '{}' and '{}' overlap: bytes [{}, {}) and [{}, {}) of the data section", path(),
           escape_for_message(prev.name), escape_for_message(cur.name), prev.data - file_.data() - data_offset_,
           prev.data + prev.nbytes - file_.data() - data_offset_, cur.data - file_.data() - data_offset_,
           cur.data + cur.nbytes - file_.data() - data_offset_);
  }
}

}  // namespace dragon
