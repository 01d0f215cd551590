// GGUF v2/v3 model files: reading (memory-mapped, validated) and writing.
// Format: magic "GGUF", version, tensor count, metadata count, metadata key/values, tensor
// infos (name, dims innermost first, GGML type id, offset), padding to `general.alignment`,
// then the tensor data. Everything read from a file is untrusted: counts, lengths and offsets are
// checked against the file size before anything is allocated or touched.
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

enum class GGUFType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view gguf_type_name(GGUFType type);

// One metadata value. Arrays carry their element type and may nest (arrays of arrays).
class GGUFValue {
 public:
  GGUFValue() = default;
  static GGUFValue u8(uint8_t v);
  static GGUFValue i8(int8_t v);
  static GGUFValue u16(uint16_t v);
  static GGUFValue i16(int16_t v);
  static GGUFValue u32(uint32_t v);
  static GGUFValue i32(int32_t v);
  static GGUFValue u64(uint64_t v);
  static GGUFValue i64(int64_t v);
  static GGUFValue f32(float v);
  static GGUFValue f64(double v);
  static GGUFValue boolean(bool v);
  static GGUFValue str(std::string v);
  static GGUFValue array(GGUFType element_type, std::vector<GGUFValue> elements);
  static GGUFValue str_array(const std::vector<std::string>& v);
  static GGUFValue i32_array(const std::vector<int32_t>& v);
  static GGUFValue f32_array(const std::vector<float>& v);

  GGUFType type() const { return type_; }
  GGUFType element_type() const { return element_type_; }  // for ARRAY

  // Checked accessors: throw dragon::Error if the value has another type (any integer type
  // converts to int64 if it fits; any float or integer to double).
  int64_t as_int() const;
  double as_float() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<GGUFValue>& as_array() const;

  // Typed copies of an array's elements, checked like the scalar accessors (the error names the
  // element index), e.g. tokenizer.ggml.tokens -> as_string_array().
  std::vector<std::string> as_string_array() const;
  std::vector<int64_t> as_int_array() const;
  std::vector<double> as_float_array() const;

  // The payload as GGUF stores it: integers (signed ones sign-extended), bool as 0/1, floats
  // as their IEEE bit pattern. For writers; readers want the checked accessors above.
  uint64_t raw_bits() const { return bits_; }

  // Same type, same element type, same bits (floats compare by bit pattern, so NaN == NaN).
  bool operator==(const GGUFValue& other) const;

  // A short rendering for people (`dragon info`): arrays show their first `max_elements`.
  std::string to_display_string(size_t max_elements = 8) const;

 private:
  static GGUFValue scalar(GGUFType type, uint64_t bits);

  GGUFType type_ = GGUFType::UINT8;
  GGUFType element_type_ = GGUFType::UINT8;
  uint64_t bits_ = 0;  // integers (two's complement), bool, or the bit pattern of f32/f64
  std::string string_;
  std::vector<GGUFValue> array_;
};

class GGUFFile {
 public:
  // Maps and parses `path`. Throws dragon::Error naming the file, the key or tensor, and the
  // byte offset on any malformed content (see tests/io/gguf_bad_files_test.cc).
  static std::unique_ptr<GGUFFile> open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  uint64_t file_size() const { return file_.size(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return metadata_; }
  const GGUFValue* find(std::string_view key) const;   // nullptr if absent
  const GGUFValue& get(std::string_view key) const;    // throws "<file>: missing key <key>"

  // Tensors in file order; shapes outermost first (GGUF's ne[] reversed); data points into the map.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;  // nullptr if absent

 private:
  explicit GGUFFile(MappedFile file) : file_(std::move(file)) {}
  void parse();

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GGUFValue>> metadata_;
  std::vector<TensorView> tensors_;
  // name -> index, so lookups stay logarithmic however many keys and tensors a file has.
  std::map<std::string, size_t, std::less<>> key_index_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writes a GGUF v3 file. Declare metadata and tensors first, then `write` streams the tensor
// bytes one tensor at a time (so a model larger than memory can be written).
class GGUFWriter {
 public:
  explicit GGUFWriter(uint32_t alignment = 32) : alignment_(alignment) {}
  void set(const std::string& key, GGUFValue value);  // replaces an existing key in place
  // shape outermost first, as everywhere in dragon.
  void add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape);
  size_t tensor_count() const { return tensors_.size(); }

  // Produces the bytes of tensor `index` (in add order). Must return exactly the tensor's size.
  using Producer = std::function<std::vector<uint8_t>(size_t index)>;
  // Writes to `path` via a temporary file renamed into place, so a failed write leaves nothing.
  void write(const std::string& path, const Producer& produce) const;

 private:
  struct Info { std::string name; DType dtype; std::vector<int64_t> shape; uint64_t nbytes; };
  uint32_t alignment_;
  std::vector<std::pair<std::string, GGUFValue>> metadata_;
  std::vector<Info> tensors_;
};

}  // namespace dragon
