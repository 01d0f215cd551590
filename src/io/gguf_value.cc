// GGUFValue: one typed metadata value, with checked accessors.
#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <limits>

#include "io/gguf.h"
#include "util/error.h"
#include "util/utf8.h"

namespace dragon {

namespace {

bool is_signed_int(GGUFType t) {
  return t == GGUFType::INT8 || t == GGUFType::INT16 || t == GGUFType::INT32 || t == GGUFType::INT64;
}
bool is_unsigned_int(GGUFType t) {
  return t == GGUFType::UINT8 || t == GGUFType::UINT16 || t == GGUFType::UINT32 || t == GGUFType::UINT64;
}

}  // namespace

std::string_view gguf_type_name(GGUFType type) {
  switch (type) {
    case GGUFType::UINT8: return "UINT8";
    case GGUFType::INT8: return "INT8";
    case GGUFType::UINT16: return "UINT16";
    case GGUFType::INT16: return "INT16";
    case GGUFType::UINT32: return "UINT32";
    case GGUFType::INT32: return "INT32";
    case GGUFType::FLOAT32: return "FLOAT32";
    case GGUFType::BOOL: return "BOOL";
    case GGUFType::STRING: return "STRING";
    case GGUFType::ARRAY: return "ARRAY";
    case GGUFType::UINT64: return "UINT64";
    case GGUFType::INT64: return "INT64";
    case GGUFType::FLOAT64: return "FLOAT64";
  }
  return "UNKNOWN";
}

GGUFValue GGUFValue::scalar(GGUFType type, uint64_t bits) {
  GGUFValue out;
  out.type_ = type;
  out.bits_ = bits;
  return out;
}

// Signed integers are stored sign-extended so as_int is a plain cast; unsigned ones zero-extended.
GGUFValue GGUFValue::u8(uint8_t v) { return scalar(GGUFType::UINT8, v); }
GGUFValue GGUFValue::i8(int8_t v) { return scalar(GGUFType::INT8, static_cast<uint64_t>(int64_t{v})); }
GGUFValue GGUFValue::u16(uint16_t v) { return scalar(GGUFType::UINT16, v); }
GGUFValue GGUFValue::i16(int16_t v) { return scalar(GGUFType::INT16, static_cast<uint64_t>(int64_t{v})); }
GGUFValue GGUFValue::u32(uint32_t v) { return scalar(GGUFType::UINT32, v); }
GGUFValue GGUFValue::i32(int32_t v) { return scalar(GGUFType::INT32, static_cast<uint64_t>(int64_t{v})); }
GGUFValue GGUFValue::u64(uint64_t v) { return scalar(GGUFType::UINT64, v); }
GGUFValue GGUFValue::i64(int64_t v) { return scalar(GGUFType::INT64, static_cast<uint64_t>(v)); }
GGUFValue GGUFValue::f32(float v) { return scalar(GGUFType::FLOAT32, std::bit_cast<uint32_t>(v)); }
GGUFValue GGUFValue::f64(double v) { return scalar(GGUFType::FLOAT64, std::bit_cast<uint64_t>(v)); }
GGUFValue GGUFValue::boolean(bool v) { return scalar(GGUFType::BOOL, v ? 1 : 0); }

GGUFValue GGUFValue::str(std::string v) {
  GGUFValue out;
  out.type_ = GGUFType::STRING;
  out.string_ = std::move(v);
  return out;
}

GGUFValue GGUFValue::array(GGUFType element_type, std::vector<GGUFValue> elements) {
  if (gguf_type_name(element_type) == "UNKNOWN")
    fail("GGUF array: unknown element type {}", static_cast<uint32_t>(element_type));
  // A GGUF array stores one element type for all elements: a mixed array cannot be written.
  for (size_t i = 0; i < elements.size(); ++i)
    if (elements[i].type() != element_type)
      fail("GGUF array of {}: element {} has type {}", gguf_type_name(element_type), i,
           gguf_type_name(elements[i].type()));
  GGUFValue out;
  out.type_ = GGUFType::ARRAY;
  out.element_type_ = element_type;
  out.array_ = std::move(elements);
  return out;
}

GGUFValue GGUFValue::str_array(const std::vector<std::string>& v) {
  std::vector<GGUFValue> elements;
  elements.reserve(v.size());
  for (const auto& s : v) elements.push_back(str(s));
  return array(GGUFType::STRING, std::move(elements));
}

GGUFValue GGUFValue::i32_array(const std::vector<int32_t>& v) {
  std::vector<GGUFValue> elements;
  elements.reserve(v.size());
  for (int32_t x : v) elements.push_back(i32(x));
  return array(GGUFType::INT32, std::move(elements));
}

GGUFValue GGUFValue::f32_array(const std::vector<float>& v) {
  std::vector<GGUFValue> elements;
  elements.reserve(v.size());
  for (float x : v) elements.push_back(f32(x));
  return array(GGUFType::FLOAT32, std::move(elements));
}

int64_t GGUFValue::as_int() const {
  if (is_signed_int(type_)) return static_cast<int64_t>(bits_);
  if (is_unsigned_int(type_)) {
    if (bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("UINT64 value {} does not fit in int64", bits_);
    return static_cast<int64_t>(bits_);
  }
  fail("expected an integer, found {}", gguf_type_name(type_));
}

double GGUFValue::as_float() const {
  if (type_ == GGUFType::FLOAT32) return std::bit_cast<float>(static_cast<uint32_t>(bits_));
  if (type_ == GGUFType::FLOAT64) return std::bit_cast<double>(bits_);
  if (is_signed_int(type_)) return static_cast<double>(static_cast<int64_t>(bits_));
  if (is_unsigned_int(type_)) return static_cast<double>(bits_);
  fail("expected a number, found {}", gguf_type_name(type_));
}

bool GGUFValue::as_bool() const {
  if (type_ != GGUFType::BOOL) fail("expected BOOL, found {}", gguf_type_name(type_));
  return bits_ != 0;
}

const std::string& GGUFValue::as_string() const {
  if (type_ != GGUFType::STRING) fail("expected STRING, found {}", gguf_type_name(type_));
  return string_;
}

const std::vector<GGUFValue>& GGUFValue::as_array() const {
  if (type_ != GGUFType::ARRAY) fail("expected ARRAY, found {}", gguf_type_name(type_));
  return array_;
}

// The typed array copies convert element by element; a failure names the element index.
template <typename T, typename Get>
static std::vector<T> convert_elements(const std::vector<GGUFValue>& elements, Get get) {
  std::vector<T> out;
  out.reserve(elements.size());
  for (size_t i = 0; i < elements.size(); ++i)
    out.push_back(with_context(fmt::format("array element {}", i), [&] { return get(elements[i]); }));
  return out;
}

std::vector<std::string> GGUFValue::as_string_array() const {
  return convert_elements<std::string>(as_array(), [](const GGUFValue& v) { return v.as_string(); });
}
std::vector<int64_t> GGUFValue::as_int_array() const {
  return convert_elements<int64_t>(as_array(), [](const GGUFValue& v) { return v.as_int(); });
}
std::vector<double> GGUFValue::as_float_array() const {
  return convert_elements<double>(as_array(), [](const GGUFValue& v) { return v.as_float(); });
}

bool GGUFValue::operator==(const GGUFValue& other) const {
  if (type_ != other.type_) return false;
  if (type_ == GGUFType::STRING) return string_ == other.string_;
  if (type_ == GGUFType::ARRAY) return element_type_ == other.element_type_ && array_ == other.array_;
  return bits_ == other.bits_;
}

std::string GGUFValue::to_display_string(size_t max_elements) const {
  switch (type_) {
    case GGUFType::STRING: return fmt::format("\"{}\"", escape_for_message(string_, 200));
    case GGUFType::BOOL: return bits_ ? "true" : "false";
    case GGUFType::FLOAT32:
    case GGUFType::FLOAT64: return fmt::format("{}", as_float());
    case GGUFType::UINT64: return fmt::format("{}", bits_);
    case GGUFType::ARRAY: {
      std::string out = "[";
      for (size_t i = 0; i < array_.size() && i < max_elements; ++i) {
        if (i) out += ", ";
        out += array_[i].to_display_string(max_elements);
      }
      if (array_.size() > max_elements)
        out += fmt::format(", ... ({} {} elements)", array_.size(), gguf_type_name(element_type_));
      return out + "]";
    }
    default: return fmt::format("{}", static_cast<int64_t>(bits_));
  }
}

}  // namespace dragon
