// Interop with PyTorch (tests/parity/safetensors_interop.py, torch 1.13, no safetensors package):
// a file torch wrote by hand is read by SafetensorsFile, and a file SafetensorsWriter wrote is
// read by torch — values compared exactly, bf16 included.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "io/safetensors.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

std::string script() { return std::string(DRAGON_SOURCE_DIR) + "/tests/parity/safetensors_interop.py"; }

// Local decoders (the f16/bf16 library code belongs to another module and is tested there).
double half_to_double(uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}
double bf16_to_double(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Element i of a tensor as a double, whatever its (plain) dtype.
double element(const TensorView& t, size_t i) {
  const uint8_t* p = t.data + i * dtype_info(t.dtype)->block_bytes;
  auto load = [p]<typename T>(T) { T v; std::memcpy(&v, p, sizeof(T)); return v; };
  switch (t.dtype) {
    case DType::F64: return load(double{});
    case DType::F32: return load(float{});
    case DType::F16: return half_to_double(load(uint16_t{}));
    case DType::BF16: return bf16_to_double(load(uint16_t{}));
    case DType::I64: return static_cast<double>(load(int64_t{}));
    case DType::I32: return load(int32_t{});
    case DType::I16: return load(int16_t{});
    case DType::I8: return load(int8_t{});
    case DType::U8: case DType::BOOL: return load(uint8_t{});
    default: ADD_FAILURE() << t.name << ": unexpected dtype " << dtype_name(t.dtype); return NAN;
  }
}

class SafetensorsInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kPython)) << "FAIL: " << kPython << " is missing; the PyTorch interop check needs it";
    dir_ = fs::temp_directory_path() /
           fmt::format("dragon_st_interop_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void run_python(const std::string& mode, const fs::path& file, const fs::path& expected) {
    const std::string command = fmt::format("{} {} {} {} {}", kPython, script(), mode, file.string(), expected.string());
    ASSERT_EQ(std::system(command.c_str()), 0) << "FAIL: " << command;
  }

  fs::path dir_;
};

TEST_F(SafetensorsInterop, ReadsFileWrittenByTorch) {
  const fs::path file = dir_ / "torch.safetensors", expected_path = dir_ / "expected.json";
  run_python("write", file, expected_path);
  std::ifstream in(expected_path);
  const nlohmann::json expected = nlohmann::json::parse(in);

  const auto st = SafetensorsFile::open(file.string());
  EXPECT_EQ(st->metadata().at("writer"), "torch by hand");
  EXPECT_EQ(st->tensors().size(), expected.size());
  double max_err = 0;
  size_t compared = 0;
  for (const auto& [name, want] : expected.items()) {
    const TensorView* t = st->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(dtype_name(t->dtype), want["dtype"].get<std::string>()) << name;
    EXPECT_EQ(t->shape, want["shape"].get<std::vector<int64_t>>()) << name;
    const auto values = want["values"].get<std::vector<double>>();
    ASSERT_EQ(static_cast<size_t>(t->numel()), values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      const double err = std::fabs(element(*t, i) - values[i]);
      if (err > max_err) max_err = err;
      EXPECT_EQ(element(*t, i), values[i]) << name << "[" << i << "]";
      ++compared;
    }
  }
  std::printf("  torch -> dragon: %zu tensors, %zu values, max abs error %g\n", expected.size(), compared, max_err);
}

uint16_t exact_bf16(float v) {
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  EXPECT_EQ(bits & 0xFFFF, 0u) << v << " is not exactly a bf16";
  return static_cast<uint16_t>(bits >> 16);
}
uint16_t exact_half(float v) {  // normal halves only, which is all this test uses
  if (v == 0) return 0;
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const int exponent = int((bits >> 23) & 0xFF) - 127 + 15;
  EXPECT_TRUE(exponent > 0 && exponent < 31 && (bits & 0x1FFF) == 0) << v << " is not exactly a normal f16";
  return static_cast<uint16_t>(((bits >> 16) & 0x8000) | (exponent << 10) | ((bits >> 13) & 0x3FF));
}

TEST_F(SafetensorsInterop, TorchReadsFileWrittenByDragon) {
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<double> values;
  };
  std::vector<Tensor> tensors = {
      {"a.bf16", DType::BF16, {3, 5}, {}}, {"b.f32", DType::F32, {2, 3, 2}, {}}, {"c.f16", DType::F16, {7}, {}},
      {"d.i64", DType::I64, {2, 2}, {-5e12, 0, 1, 9e15}}, {"e.u8", DType::U8, {3}, {0, 17, 255}},
      {"f.bool", DType::BOOL, {2}, {1, 0}}, {"g.f64", DType::F64, {3}, {std::numbers::pi, -1e-300, 1e300}},
      {"h.i8", DType::I8, {2}, {-128, 127}}, {"i.i32", DType::I32, {1}, {-123456789}}, {"j.i16", DType::I16, {1}, {-300}},
  };
  for (Tensor& t : tensors)
    if (t.values.empty())  // small dyadic values: exact in bf16 and f16
      for (int64_t i = 0; i < checked_numel(t.shape, t.name); ++i) t.values.push_back((i * 37 % 23 - 11) / 8.0);

  SafetensorsWriter writer;
  for (const Tensor& t : tensors) writer.add_tensor(t.name, t.dtype, t.shape);
  writer.write_dir(dir_.string(), [&](size_t index) {
    const Tensor& t = tensors[index];
    std::vector<uint8_t> bytes;
    auto put = [&bytes]<typename T>(T v) {
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      bytes.insert(bytes.end(), p, p + sizeof(T));
    };
    for (double v : t.values) switch (t.dtype) {
        case DType::BF16: put(exact_bf16(static_cast<float>(v))); break;
        case DType::F16: put(exact_half(static_cast<float>(v))); break;
        case DType::F32: put(static_cast<float>(v)); break;
        case DType::F64: put(v); break;
        case DType::I64: put(static_cast<int64_t>(v)); break;
        case DType::I32: put(static_cast<int32_t>(v)); break;
        case DType::I16: put(static_cast<int16_t>(v)); break;
        case DType::I8: put(static_cast<int8_t>(v)); break;
        default: put(static_cast<uint8_t>(v)); break;
      }
    return bytes;
  });

  nlohmann::json expected;
  for (const Tensor& t : tensors)
    expected[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"values", t.values}};
  const fs::path expected_path = dir_ / "expected.json";
  std::ofstream(expected_path) << expected.dump();
  run_python("read", dir_ / "model.safetensors", expected_path);
}

}  // namespace
}  // namespace dragon
