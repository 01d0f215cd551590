// Interoperability with llama.cpp's gguf-py, both ways:
//  - gguf-py's GGUFWriter writes a file (tests/parity/gguf_py_write.py) and dragon must read every
//    key, value, shape and byte exactly as the script's manifest says;
//  - dragon's GGUFWriter writes a file and gguf-py's GGUFReader (tests/parity/gguf_py_read.py)
//    must see the same keys, types, values, shapes, offsets and bytes.
// Python and gguf-py are required (scripts/setup.sh installs them): missing ones FAIL the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/gguf_helpers.h"
#include "test_paths.h"

namespace dragon::test {
namespace {

using nlohmann::json;

constexpr const char* kPython = "/usr/bin/python3";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The gguf-py directory, or "" after recording a test failure saying what is missing.
std::string gguf_py_dir() {
  if (!std::filesystem::exists(kPython)) {
    ADD_FAILURE() << kPython << " not found: run scripts/setup.sh (the gguf-py interop test needs Python + numpy)";
    return "";
  }
  const auto dir = llama_cpp_dir() / "gguf-py";
  if (!std::filesystem::exists(dir / "gguf" / "gguf_reader.py")) {
    ADD_FAILURE() << "gguf-py not found at " << dir << ": run scripts/setup.sh (it unpacks llama.cpp into build/)";
    return "";
  }
  return dir.string();
}

std::string script(const char* name) { return (source_dir() / "tests" / "parity" / name).string(); }

void run(const std::string& command) {
  std::cout << "  $ " << command << "\n";
  const int status = std::system(command.c_str());
  ASSERT_EQ(status, 0) << "command failed: " << command;
}

json load_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string hex(const uint8_t* data, uint64_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (uint64_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

float half_to_float(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
}

GGUFType type_from_name(const std::string& name) {
  for (uint32_t t = 0; t <= static_cast<uint32_t>(GGUFType::FLOAT64); ++t)
    if (gguf_type_name(static_cast<GGUFType>(t)) == name) return static_cast<GGUFType>(t);
  throw std::runtime_error("unknown GGUF type name " + name);
}

// The manifest's typed JSON ({"type", "value"} / {"type": "ARRAY", "element_type", "elements"}).
GGUFValue from_typed_json(const json& j) {
  const GGUFType type = type_from_name(j.at("type").get<std::string>());
  const json& v = j.contains("value") ? j.at("value") : j.at("elements");
  switch (type) {
    case GGUFType::UINT8: return GGUFValue::u8(v.get<uint8_t>());
    case GGUFType::INT8: return GGUFValue::i8(v.get<int8_t>());
    case GGUFType::UINT16: return GGUFValue::u16(v.get<uint16_t>());
    case GGUFType::INT16: return GGUFValue::i16(v.get<int16_t>());
    case GGUFType::UINT32: return GGUFValue::u32(v.get<uint32_t>());
    case GGUFType::INT32: return GGUFValue::i32(v.get<int32_t>());
    case GGUFType::UINT64: return GGUFValue::u64(v.get<uint64_t>());
    case GGUFType::INT64: return GGUFValue::i64(v.get<int64_t>());
    case GGUFType::FLOAT32: return GGUFValue::f32(static_cast<float>(v.get<double>()));
    case GGUFType::FLOAT64: return GGUFValue::f64(v.get<double>());
    case GGUFType::BOOL: return GGUFValue::boolean(v.get<bool>());
    case GGUFType::STRING: return GGUFValue::str(v.get<std::string>());
    case GGUFType::ARRAY: {
      std::vector<GGUFValue> elements;
      for (const json& e : v) elements.push_back(from_typed_json(e));
      return GGUFValue::array(type_from_name(j.at("element_type").get<std::string>()), std::move(elements));
    }
  }
  throw std::runtime_error("unreachable");
}

TEST(GGUFInterop, DragonReadsGgufPyFile) {
  const std::string gguf_py = gguf_py_dir();
  ASSERT_FALSE(gguf_py.empty());
  TempDir dir("gguf_interop_py_write");
  const std::string path = dir.file("from_gguf_py.gguf"), manifest_path = dir.file("manifest.json");
  ASSERT_NO_FATAL_FAILURE(run(fmt::format("{} {} {} {} {}", kPython, quote(script("gguf_py_write.py")),
                                          quote(gguf_py), quote(path), quote(manifest_path))));
  const json manifest = load_json(manifest_path);
  auto f = GGUFFile::open(path);

  const json& keys = manifest.at("metadata");
  ASSERT_EQ(f->metadata().size(), keys.size());
  size_t values_equal = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [key, value] = f->metadata()[i];
    EXPECT_EQ(key, keys[i].at("key").get<std::string>()) << "key order at " << i;
    const GGUFValue want = from_typed_json(keys[i].at("value"));
    const bool same = value == want;
    EXPECT_TRUE(same) << key << ": dragon read " << value.to_display_string() << ", gguf-py wrote "
                      << want.to_display_string();
    values_equal += same;
  }

  const json& tensors = manifest.at("tensors");
  ASSERT_EQ(f->tensors().size(), tensors.size());
  uint64_t bytes_equal = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = f->tensors()[i];
    EXPECT_EQ(t.name, tensors[i].at("name").get<std::string>());
    EXPECT_EQ(dtype_name(t.dtype), tensors[i].at("type").get<std::string>()) << t.name;
    EXPECT_EQ(t.shape, tensors[i].at("shape").get<std::vector<int64_t>>()) << t.name;
    const std::string got = hex(t.data, t.nbytes);
    EXPECT_EQ(got, tensors[i].at("hex").get<std::string>()) << t.name << " bytes differ";
    if (got == tensors[i].at("hex").get<std::string>()) bytes_equal += t.nbytes;
  }

  // The known values, recomputed here from the script's formulas.
  const TensorView* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  for (int i = 0; i < 24; ++i) {
    float v;
    std::memcpy(&v, embd->data + 4 * i, 4);
    EXPECT_EQ(v, i * 0.25f - 3.0f) << "token_embd.weight[" << i << "]";
  }
  const TensorView* attn_q = f->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(attn_q, nullptr);
  for (int i = 0; i < 64; ++i) {
    uint16_t h;
    std::memcpy(&h, attn_q->data + 2 * i, 2);
    EXPECT_EQ(half_to_float(h), i / 8.0f - 4.0f) << "blk.0.attn_q.weight[" << i << "]";
  }
  const TensorView* ffn_up = f->find_tensor("blk.0.ffn_up.weight");
  ASSERT_NE(ffn_up, nullptr);
  double q8_max_err = 0;
  for (int block = 0; block < 8; ++block) {  // Q8_0 block: f16 scale, then 32 int8
    const uint8_t* b = ffn_up->data + 34 * block;
    const float d = half_to_float(static_cast<uint16_t>(b[0] | (b[1] << 8)));
    for (int k = 0; k < 32; ++k) {
      const int i = 32 * block + k;
      const double want = ((i % 17) - 8.0) * 0.125;
      q8_max_err = std::max(q8_max_err, std::abs(d * static_cast<int8_t>(b[2 + k]) - want));
    }
  }
  EXPECT_LT(q8_max_err, 1.0 / 127 / 2 + 1e-3);
  std::cout << "  gguf-py -> dragon: " << values_equal << "/" << keys.size() << " values equal, " << bytes_equal
            << " tensor bytes equal, Q8_0 dequantized max abs error " << q8_max_err << "\n";
}

// What gguf-py's reader reports for a value: [type, element type of the first element, ...].
json reader_types(const GGUFValue& v) {
  json types = json::array({std::string(gguf_type_name(v.type()))});
  if (v.type() == GGUFType::ARRAY && !v.as_array().empty())
    for (const json& t : reader_types(v.as_array().front())) types.push_back(t);
  return types;
}

// Every scalar leaf, in order, as gguf-py's reader flattens nested arrays.
void flatten(const GGUFValue& v, std::vector<const GGUFValue*>& out) {
  if (v.type() != GGUFType::ARRAY) {
    out.push_back(&v);
    return;
  }
  for (const GGUFValue& e : v.as_array()) flatten(e, out);
}

bool leaf_equals(const GGUFValue& v, const json& j) {
  switch (v.type()) {
    case GGUFType::STRING: return j.is_string() && j.get<std::string>() == v.as_string();
    case GGUFType::BOOL: return j.is_boolean() && j.get<bool>() == v.as_bool();
    case GGUFType::FLOAT32:
    case GGUFType::FLOAT64: return j.is_number() && j.get<double>() == v.as_float();
    case GGUFType::UINT64: return j.is_number_unsigned() && j.get<uint64_t>() == v.raw_bits();
    default: return j.is_number_integer() && j.get<int64_t>() == v.as_int();
  }
}

TEST(GGUFInterop, GgufPyReadsDragonFile) {
  const std::string gguf_py = gguf_py_dir();
  ASSERT_FALSE(gguf_py.empty());
  TempDir dir("gguf_interop_py_read");
  const std::string path = dir.file("from_dragon.gguf"), out_path = dir.file("seen_by_gguf_py.json");

  using V = GGUFValue;
  GGUFWriter w(64);
  w.set("general.architecture", V::str("qwen3"));
  w.set("general.name", V::str("Grüße 🐉"));
  w.set("t.str_empty", V::str(""));
  w.set("t.u8", V::u8(250));
  w.set("t.i8", V::i8(-5));
  w.set("t.u16", V::u16(65535));
  w.set("t.i16", V::i16(-300));
  w.set("t.u32", V::u32(4000000000u));
  w.set("t.i32", V::i32(-7));
  w.set("t.u64", V::u64(~uint64_t{0}));
  w.set("t.i64", V::i64(-(int64_t{1} << 60)));
  w.set("t.f32", V::f32(0.1f));
  w.set("t.f64", V::f64(-2.5e-300));
  w.set("t.bool", V::boolean(true));
  w.set("t.arr_str", V::str_array({"<s>", "", "ü", "Ġthe"}));
  w.set("t.arr_i32", V::i32_array({3, -4}));
  w.set("t.arr_f32", V::f32_array({0.5f, -1e-3f}));
  w.set("t.arr_bool", V::array(GGUFType::BOOL, {V::boolean(false), V::boolean(true)}));
  w.set("t.arr_u64", V::array(GGUFType::UINT64, {V::u64(uint64_t{1} << 63)}));
  w.set("t.arr_empty", V::array(GGUFType::UINT32, {}));
  w.set("t.arr_nested", V::array(GGUFType::ARRAY, {V::i32_array({1, 2}), V::i32_array({}), V::i32_array({3})}));
  w.set("t.arr_nested_str", V::array(GGUFType::ARRAY, {V::str_array({"x"}), V::str_array({"y", "z"})}));
  struct Spec { std::string name; DType dtype; std::vector<int64_t> shape; };
  const std::vector<Spec> specs = {
      {"token_embd.weight", DType::F32, {3, 8}},      {"blk.0.attn_q.weight", DType::F16, {2, 4, 8}},
      {"blk.0.ffn_up.weight", DType::Q8_0, {4, 64}},  {"blk.0.ffn_gate_exps.weight", DType::BF16, {2, 1, 3, 4}},
      {"blk.0.ids", DType::I32, {3}},                 {"blk.0.ffn_down.weight", DType::Q4_K, {1, 256}},
  };
  for (const auto& s : specs) w.add_tensor(s.name, s.dtype, s.shape);
  std::vector<std::vector<uint8_t>> data;
  w.write(path, [&](size_t i) {
    const auto& s = specs[i];
    std::vector<uint8_t> bytes(dtype_row_bytes(s.dtype, s.shape.back()) *
                               static_cast<uint64_t>(checked_numel(s.shape, s.name) / s.shape.back()));
    for (size_t b = 0; b < bytes.size(); ++b) bytes[b] = static_cast<uint8_t>(b * 13 + i * 71 + 5);
    data.push_back(bytes);
    return bytes;
  });

  ASSERT_NO_FATAL_FAILURE(run(fmt::format("{} {} {} {} > {}", kPython, quote(script("gguf_py_read.py")),
                                          quote(gguf_py), quote(path), quote(out_path))));
  const json seen = load_json(out_path);
  auto f = GGUFFile::open(path);  // dragon's own view, for the expected metadata and offsets

  EXPECT_EQ(seen.at("alignment").get<uint64_t>(), 64u);
  EXPECT_EQ(seen.at("data_offset").get<uint64_t>(), f->data_offset());
  const json& fields = seen.at("fields");
  ASSERT_EQ(fields.size(), f->metadata().size());
  size_t fields_equal = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& [key, value] = f->metadata()[i];
    EXPECT_EQ(fields[i].at("key").get<std::string>(), key) << "key order at " << i;
    EXPECT_EQ(fields[i].at("types"), reader_types(value)) << key;
    std::vector<const GGUFValue*> leaves;
    flatten(value, leaves);
    const json& got = fields[i].at("leaves");
    bool same = got.size() == leaves.size();
    for (size_t k = 0; same && k < leaves.size(); ++k) same = leaf_equals(*leaves[k], got[k]);
    EXPECT_TRUE(same) << key << ": gguf-py saw " << got.dump() << ", dragon wrote " << value.to_display_string();
    fields_equal += same;
  }
  EXPECT_EQ(f->get("general.alignment").as_int(), 64);

  const json& tensors = seen.at("tensors");
  ASSERT_EQ(tensors.size(), specs.size());
  uint64_t bytes_equal = 0;
  const uint8_t* data_section = f->tensors()[0].data;  // dragon's writer puts tensor 0 at offset 0
  for (size_t i = 0; i < specs.size(); ++i) {
    const json& t = tensors[i];
    EXPECT_EQ(t.at("name").get<std::string>(), specs[i].name);
    EXPECT_EQ(t.at("type").get<std::string>(), dtype_name(specs[i].dtype)) << specs[i].name;
    const std::vector<int64_t> ne(specs[i].shape.rbegin(), specs[i].shape.rend());
    EXPECT_EQ(t.at("ne").get<std::vector<int64_t>>(), ne) << specs[i].name;
    EXPECT_EQ(t.at("n_bytes").get<uint64_t>(), data[i].size()) << specs[i].name;
    EXPECT_EQ(t.at("data_offset").get<uint64_t>(), f->data_offset() + (f->tensors()[i].data - data_section))
        << specs[i].name;
    EXPECT_EQ(t.at("data_offset").get<uint64_t>() % 64, 0u) << specs[i].name;
    const bool same = t.at("hex").get<std::string>() == hex(data[i].data(), data[i].size());
    EXPECT_TRUE(same) << specs[i].name << " bytes differ";
    if (same) bytes_equal += data[i].size();
  }
  std::cout << "  dragon -> gguf-py: " << fields_equal << "/" << fields.size() << " fields equal, " << bytes_equal
            << " tensor bytes equal, data offset " << f->data_offset() << "\n";
}

}  // namespace
}  // namespace dragon::test
