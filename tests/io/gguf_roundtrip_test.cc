// GGUFWriter -> GGUFFile: every value type and a mix of tensors come back exactly; the writer's
// own rules (alignment key, replace-in-place, producer size, atomic rename) hold.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "io/gguf_helpers.h"

namespace dragon::test {
namespace {

// Every value type, empty / nested arrays, empty and non-ASCII strings.
std::vector<std::pair<std::string, GGUFValue>> all_value_kinds() {
  using V = GGUFValue;
  return {
      {"t.u8", V::u8(255)},
      {"t.i8", V::i8(-128)},
      {"t.u16", V::u16(65535)},
      {"t.i16", V::i16(-32768)},
      {"t.u32", V::u32(4000000000u)},
      {"t.i32", V::i32(-2000000000)},
      {"t.u64", V::u64(~uint64_t{0})},
      {"t.i64", V::i64(std::numeric_limits<int64_t>::min())},
      {"t.f32", V::f32(-1.5e-30f)},
      {"t.f32_nan", V::f32(std::nanf(""))},
      {"t.f64", V::f64(3.141592653589793)},
      {"t.bool_true", V::boolean(true)},
      {"t.bool_false", V::boolean(false)},
      {"t.str", V::str("hello")},
      {"t.str_empty", V::str("")},
      {"t.str_unicode", V::str("Grüße 你好 🐉 \xe2\x80\x8b")},
      {"t.str_with_nul", V::str(std::string("a\0b", 3))},
      {"t.arr_u8", V::array(GGUFType::UINT8, {V::u8(0), V::u8(1), V::u8(255)})},
      {"t.arr_i16", V::array(GGUFType::INT16, {V::i16(-1), V::i16(2)})},
      {"t.arr_u64", V::array(GGUFType::UINT64, {V::u64(1), V::u64(uint64_t{1} << 63)})},
      {"t.arr_f64", V::array(GGUFType::FLOAT64, {V::f64(-0.0), V::f64(1e300)})},
      {"t.arr_bool", V::array(GGUFType::BOOL, {V::boolean(true), V::boolean(false)})},
      {"t.arr_i32", V::i32_array({1, -2, 3})},
      {"t.arr_f32", V::f32_array({0.25f, -8.0f})},
      {"t.arr_str", V::str_array({"", "a", "ü", "🐉"})},
      {"t.arr_empty_str", V::array(GGUFType::STRING, {})},
      {"t.arr_empty_u32", V::array(GGUFType::UINT32, {})},
      {"t.arr_nested", V::array(GGUFType::ARRAY, {V::i32_array({1, 2}), V::i32_array({}), V::i32_array({3})})},
      {"t.arr_nested_str", V::array(GGUFType::ARRAY, {V::str_array({"x", "y"}), V::str_array({""})})},
      {"t.arr_nested_2", V::array(GGUFType::ARRAY, {V::array(GGUFType::ARRAY, {V::f32_array({1.0f})})})},
      {"t.arr_of_empty_arrays", V::array(GGUFType::ARRAY, {V::array(GGUFType::UINT8, {})})},
  };
}

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
};

std::vector<TensorSpec> tensor_mix() {
  return {
      {"token_embd.weight", DType::F32, {3, 5}},
      {"blk.0.attn_q.weight", DType::F16, {2, 4, 8}},
      {"blk.0.ffn_up.weight", DType::Q8_0, {2, 64}},
      {"blk.0.attn_norm.weight", DType::I32, {7}},
      {"blk.0.ffn_gate_exps.weight", DType::BF16, {2, 1, 3, 4}},
      {"blk.0.ffn_down.weight", DType::Q4_K, {1, 256}},
      {"output.weight", DType::F64, {1}},
  };
}

// Distinct bytes per tensor, so a misplaced or swapped tensor shows.
std::vector<uint8_t> pattern(size_t index, uint64_t nbytes) {
  std::vector<uint8_t> bytes(nbytes);
  for (uint64_t i = 0; i < nbytes; ++i) bytes[i] = static_cast<uint8_t>(i * 7 + index * 31 + 1);
  return bytes;
}

uint64_t expected_nbytes(const TensorSpec& t) {
  return dtype_row_bytes(t.dtype, t.shape.back()) * static_cast<uint64_t>(checked_numel(t.shape, t.name) / t.shape.back());
}

void write_mix(const std::string& path, uint32_t alignment) {
  GGUFWriter w(alignment);
  for (auto& [k, v] : all_value_kinds()) w.set(k, v);
  const auto specs = tensor_mix();
  for (const auto& t : specs) w.add_tensor(t.name, t.dtype, t.shape);
  w.write(path, [&](size_t i) { return pattern(i, expected_nbytes(specs[i])); });
}

void check_mix(const GGUFFile& f, uint32_t alignment) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);

  auto expected = all_value_kinds();
  if (alignment != 32) expected.emplace_back("general.alignment", GGUFValue::u32(alignment));
  ASSERT_EQ(f.metadata().size(), expected.size());
  size_t values_equal = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].first, expected[i].first) << "key order at " << i;
    const bool same = f.metadata()[i].second == expected[i].second;
    EXPECT_TRUE(same) << expected[i].first << ": read " << f.metadata()[i].second.to_display_string();
    values_equal += same;
    EXPECT_EQ(f.find(expected[i].first), &f.metadata()[i].second);
  }
  EXPECT_EQ(f.find("t.absent"), nullptr);

  const auto specs = tensor_mix();
  ASSERT_EQ(f.tensors().size(), specs.size());
  size_t bytes_compared = 0, bytes_wrong = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorView& t = f.tensors()[i];
    EXPECT_EQ(t.name, specs[i].name);
    EXPECT_EQ(t.dtype, specs[i].dtype) << t.name;
    EXPECT_EQ(t.shape, specs[i].shape) << t.name;
    ASSERT_EQ(t.nbytes, expected_nbytes(specs[i])) << t.name;
    EXPECT_EQ(f.find_tensor(t.name), &t);
    EXPECT_EQ((t.data - f.tensors()[0].data) % alignment, 0u) << t.name << " not aligned in the file";
    const auto want = pattern(i, t.nbytes);
    for (uint64_t b = 0; b < t.nbytes; ++b) bytes_wrong += t.data[b] != want[b];
    bytes_compared += t.nbytes;
  }
  std::cout << "  alignment " << alignment << ": " << values_equal << "/" << expected.size() << " values equal, "
            << bytes_compared << " tensor bytes compared, " << bytes_wrong << " wrong, file size " << f.file_size()
            << "\n";
  EXPECT_EQ(bytes_wrong, 0u);
}

TEST(GGUFRoundTrip, EveryValueTypeAndTensorMix) {
  TempDir dir("gguf_roundtrip");
  const std::string path = dir.file("mix.gguf");
  write_mix(path, 32);
  check_mix(*GGUFFile::open(path), 32);
}

TEST(GGUFRoundTrip, CustomAlignmentWritesKeyAndAligns) {
  TempDir dir("gguf_roundtrip_align");
  const std::string path = dir.file("mix64.gguf");
  write_mix(path, 64);
  auto f = GGUFFile::open(path);
  check_mix(*f, 64);
  EXPECT_EQ(f->get("general.alignment").type(), GGUFType::UINT32);
}

TEST(GGUFRoundTrip, DefaultAlignmentWritesNoKey) {
  TempDir dir("gguf_roundtrip_noalign");
  const std::string path = dir.file("a.gguf");
  GGUFWriter w;
  w.set("general.architecture", GGUFValue::str("qwen3"));
  w.write(path, [](size_t) { return std::vector<uint8_t>{}; });
  auto f = GGUFFile::open(path);
  EXPECT_EQ(f->find("general.alignment"), nullptr);
  EXPECT_EQ(f->tensors().size(), 0u);
}

TEST(GGUFRoundTrip, SetReplacesInPlace) {
  TempDir dir("gguf_roundtrip_replace");
  const std::string path = dir.file("r.gguf");
  GGUFWriter w;
  w.set("a", GGUFValue::u32(1));
  w.set("b", GGUFValue::u32(2));
  w.set("c", GGUFValue::u32(3));
  w.set("b", GGUFValue::str("two"));
  w.write(path, [](size_t) { return std::vector<uint8_t>{}; });
  auto f = GGUFFile::open(path);
  ASSERT_EQ(f->metadata().size(), 3u);
  EXPECT_EQ(f->metadata()[1].first, "b");
  EXPECT_EQ(f->metadata()[1].second.as_string(), "two");
  EXPECT_EQ(f->metadata()[2].first, "c");
}

TEST(GGUFRoundTrip, WrongProducerSizeLeavesNoFile) {
  TempDir dir("gguf_roundtrip_producer");
  const std::string path = dir.file("bad.gguf");
  GGUFWriter w;
  w.add_tensor("blk.0.attn_q.weight", DType::F32, {2, 3});
  std::string message;
  try {
    w.write(path, [](size_t) { return std::vector<uint8_t>(20); });
  } catch (const Error& e) {
    message = e.what();
  }
  std::cout << "  " << message << "\n";
  EXPECT_NE(message.find("blk.0.attn_q.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("returned 20 bytes, expected 24"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the temporary file was left behind";
}

TEST(GGUFRoundTrip, RewriteReplacesExistingFile) {
  TempDir dir("gguf_roundtrip_rewrite");
  const std::string path = dir.file("x.gguf");
  for (uint32_t n : {1u, 2u}) {
    GGUFWriter w;
    w.set("n", GGUFValue::u32(n));
    w.write(path, [](size_t) { return std::vector<uint8_t>{}; });
  }
  EXPECT_EQ(GGUFFile::open(path)->get("n").as_int(), 2);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(GGUFRoundTrip, WriterRejectsBadDeclarations) {
  auto message = [](const std::function<void()>& body) -> std::string {
    try {
      body();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  GGUFWriter w;
  w.add_tensor("x", DType::F32, {4});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {message([&] { w.add_tensor("x", DType::F32, {4}); }), "added twice"},
      {message([&] { w.add_tensor("y", DType::F8_E4M3, {4}); }), "cannot be stored in GGUF"},
      {message([&] { w.add_tensor("y", DType::F32, {1, 1, 1, 1, 1}); }), "more than 4 dimensions"},
      {message([&] { w.add_tensor("y", DType::F32, {4, 0}); }), "dimension <= 0"},
      {message([&] { w.add_tensor("y", DType::Q8_0, {4, 33}); }), "not a multiple"},
      {message([&] { w.add_tensor(std::string(64, 'n'), DType::F32, {4}); }), "at most 63"},
      {message([&] { w.set("bad\xff", GGUFValue::u8(1)); }), "invalid UTF-8"},
      {message([] { GGUFWriter(48).write("/nonexistent/never.gguf", {}); }), "not a nonzero power of two"},
  };
  for (const auto& [got, want] : cases) {
    std::cout << "  " << got << "\n";
    EXPECT_NE(got.find(want), std::string::npos) << "wanted '" << want << "' in: " << got;
  }
}

// A 150k-token vocabulary (the size of Qwen's) must write and open in linear time.
TEST(GGUFRoundTrip, LargeVocabularyArrays) {
  TempDir dir("gguf_roundtrip_vocab");
  const std::string path = dir.file("vocab.gguf");
  const size_t n = 151936;
  std::vector<std::string> tokens(n);
  std::vector<float> scores(n);
  std::vector<int32_t> types(n);
  for (size_t i = 0; i < n; ++i) {
    tokens[i] = "tok" + std::to_string(i);
    scores[i] = -static_cast<float>(i);
    types[i] = static_cast<int32_t>(i % 6);
  }
  const auto t0 = std::chrono::steady_clock::now();
  GGUFWriter w;
  w.set("tokenizer.ggml.tokens", GGUFValue::str_array(tokens));
  w.set("tokenizer.ggml.scores", GGUFValue::f32_array(scores));
  w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(types));
  w.write(path, [](size_t) { return std::vector<uint8_t>{}; });
  const auto t1 = std::chrono::steady_clock::now();
  auto f = GGUFFile::open(path);
  const auto t2 = std::chrono::steady_clock::now();
  const auto& read_tokens = f->get("tokenizer.ggml.tokens").as_array();
  ASSERT_EQ(read_tokens.size(), n);
  EXPECT_EQ(read_tokens[n - 1].as_string(), "tok" + std::to_string(n - 1));
  EXPECT_EQ(f->get("tokenizer.ggml.scores").as_array()[12345].as_float(), -12345.0);
  EXPECT_EQ(f->get("tokenizer.ggml.token_type").as_int_array()[n - 1], static_cast<int64_t>((n - 1) % 6));
  std::cout << "  " << n << " tokens: write " << std::chrono::duration<double, std::milli>(t1 - t0).count()
            << " ms, open " << std::chrono::duration<double, std::milli>(t2 - t1).count() << " ms, file "
            << f->file_size() << " bytes\n";
}

}  // namespace
}  // namespace dragon::test
