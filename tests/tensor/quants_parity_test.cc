// Parity of dragon's tensor formats with llama.cpp's own code (tests/parity/quants_reference.py):
// dequantization bit-exact with gguf-py's numpy reference, quantization byte-exact with gguf-py's
// quantize() (and ggml's Q8_K), and dragon's own K-quant / IQ4 quantizers measured against
// ggml's reference quantizers on the same weight-like data.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tensor/dequantize.h"
#include "tensor/dtype.h"
#include "tensor/quantize.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kScript = fs::path(DRAGON_SOURCE_DIR) / "tests/parity/quants_reference.py";

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_floats(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Runs a command; returns "" on success or a message that says what to fix.
std::string run_python(const std::string& args) {
  const std::string command = "/usr/bin/python3 " + kScript.string() + " " + args;
  const int status = std::system(command.c_str());
  if (status == 0) return "";
  return fmt::format("`{}` failed (status {}). The parity check needs /usr/bin/python3 with numpy, "
                     "build/llama.cpp/gguf-py and the prebuilt libggml-base from node_modules: run "
                     "scripts/setup.sh",
                     command, status);
}

// The reference data, generated once per test process into a temporary directory.
class ReferenceData {
 public:
  static const ReferenceData& get() {
    static const ReferenceData data;
    return data;
  }
  ~ReferenceData() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path dir;
  json manifest;
  std::string error;  // non-empty when generation failed

 private:
  ReferenceData() {
    dir = fs::temp_directory_path() / fmt::format("dragon_quants_parity_{}", ::getpid());
    fs::create_directories(dir);
    error = run_python(fmt::format("generate --seed 1234 --out {} > /dev/null", dir.string()));
    if (error.empty()) manifest = json::parse(std::ifstream(dir / "manifest.json"));
  }
};

#define REQUIRE_REFERENCE(data) \
  const ReferenceData& data = ReferenceData::get(); \
  ASSERT_TRUE(data.error.empty()) << data.error

DType type_named(const std::string& name) {
  const auto type = dtype_from_name(name);
  if (!type) throw std::runtime_error("dragon has no dtype " + name);
  return *type;
}

// Bitwise comparison of two float arrays: count of differing elements and the largest |a - b|
// among the finite ones.
struct FloatDiff {
  int64_t mismatches = 0;
  double max_abs = 0;
};
FloatDiff compare_bits(const std::vector<float>& a, const std::vector<float>& b) {
  FloatDiff diff;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) == 0) continue;
    ++diff.mismatches;
    if (std::isfinite(a[i]) && std::isfinite(b[i])) diff.max_abs = std::max(diff.max_abs, std::fabs(double(a[i]) - b[i]));
    else diff.max_abs = INFINITY;
  }
  return diff;
}

double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

std::vector<float> dequantize_all(DType type, const std::vector<uint8_t>& bytes, int64_t count) {
  std::vector<float> out(static_cast<size_t>(count));
  dequantize_row(type, bytes.data(), out.data(), count);
  return out;
}

TEST(QuantsParity, BlockSizesMatchGgufPy) {
  REQUIRE_REFERENCE(data);
  int checked = 0;
  for (const auto& [name, sizes] : data.manifest["quant_sizes"].items()) {
    const auto type = dtype_from_name(name);
    if (!type) {
      fmt::print("  {:8} not in dragon's dtype table (gguf-py has it)\n", name);
      continue;
    }
    const DTypeInfo& info = dtype_info_checked(*type);
    EXPECT_EQ(info.block_elems, sizes[0].get<int64_t>()) << name;
    EXPECT_EQ(info.block_bytes, sizes[1].get<int64_t>()) << name;
    EXPECT_EQ(static_cast<uint32_t>(*type), static_cast<uint32_t>(type_named(name))) << name;
    ++checked;
  }
  fmt::print("block sizes checked against GGML_QUANT_SIZES: {} types\n", checked);
  EXPECT_GE(checked, 30);
}

TEST(QuantsParity, DequantizeBitExactWithGgufPy) {
  REQUIRE_REFERENCE(data);
  ASSERT_GE(data.manifest["dequantize"].size(), 21u);
  for (const json& item : data.manifest["dequantize"]) {
    const std::string name = item["type"];
    const int64_t count = item["count"];
    const std::vector<float> expected = read_floats(data.dir / item["values"].get<std::string>());
    ASSERT_EQ(expected.size(), static_cast<size_t>(count)) << name;
    const std::vector<float> got = dequantize_all(type_named(name), read_bytes(data.dir / item["blocks"].get<std::string>()), count);
    const FloatDiff diff = compare_bits(got, expected);
    fmt::print("dequantize {:7} {:6} values: {} mismatches, max abs diff {:g}\n", name, count, diff.mismatches, diff.max_abs);
    EXPECT_EQ(diff.mismatches, 0) << name;
  }
}

TEST(QuantsParity, QuantizeByteExactWithReference) {
  REQUIRE_REFERENCE(data);
  ASSERT_GE(data.manifest["quantize"].size(), 9u);
  for (const json& item : data.manifest["quantize"]) {
    const std::string name = item["type"];
    const DType type = type_named(name);
    const std::vector<float> input = read_floats(data.dir / item["input"].get<std::string>());
    const std::vector<uint8_t> expected = read_bytes(data.dir / item["bytes"].get<std::string>());
    const int64_t cols = 256;
    const std::vector<uint8_t> got = quantize_tensor(type, input.data(), static_cast<int64_t>(input.size()) / cols, cols);
    ASSERT_EQ(got.size(), expected.size()) << name;
    int64_t byte_mismatches = 0, block_mismatches = 0;
    const int64_t block_bytes = dtype_info_checked(type).block_bytes;
    for (size_t b = 0; b < got.size(); b += block_bytes) {
      int64_t in_block = 0;
      for (int64_t i = 0; i < block_bytes; ++i) in_block += got[b + i] != expected[b + i];
      byte_mismatches += in_block;
      block_mismatches += in_block > 0;
    }
    fmt::print("quantize {:5} {:6} values vs {}: {} bytes / {} blocks differ\n", name, input.size(),
               item["reference"].get<std::string>(), byte_mismatches, block_mismatches);
    EXPECT_EQ(byte_mismatches, 0) << name;
  }
}

// ggml's reference quantizers make realistic blocks (not random bytes): dragon must decode
// them exactly as gguf-py does.
TEST(QuantsParity, DequantizesGgmlQuantizedBlocks) {
  REQUIRE_REFERENCE(data);
  for (const json& item : data.manifest["reference_quantizers"]) {
    const std::string name = item["type"];
    const int64_t count = item["count"];
    const std::vector<float> got = dequantize_all(type_named(name), read_bytes(data.dir / item["ggml_bytes"].get<std::string>()), count);
    const FloatDiff diff = compare_bits(got, read_floats(data.dir / item["ggml_values"].get<std::string>()));
    fmt::print("dequantize ggml-made {:6}: {} mismatches, max abs diff {:g}\n", name, diff.mismatches, diff.max_abs);
    EXPECT_EQ(diff.mismatches, 0) << name;
  }
}

// dragon's own quantizers: their bytes must decode identically in gguf-py, and their error must
// not exceed ggml's reference quantizer's on the same data by more than 1%.
TEST(QuantsParity, OwnQuantizersMatchGgmlQualityAndDecodeInGgufPy) {
  REQUIRE_REFERENCE(data);
  ASSERT_GE(data.manifest["reference_quantizers"].size(), 5u);
  for (const json& item : data.manifest["reference_quantizers"]) {
    const std::string name = item["type"];
    const DType type = type_named(name);
    const int64_t count = item["count"];
    const std::vector<float> input = read_floats(data.dir / item["input"].get<std::string>());
    const int64_t cols = 1024;
    const std::vector<uint8_t> bytes = quantize_tensor(type, input.data(), count / cols, cols);
    const std::vector<float> ours = dequantize_all(type, bytes, count);

    const fs::path blocks_path = data.dir / ("dragon_" + name + ".bin");
    const fs::path decoded_path = data.dir / ("dragon_" + name + ".f32");
    write_bytes(blocks_path, bytes);
    const std::string error = run_python(fmt::format("decode --type {} --count {} --blocks {} --out {}", name, count,
                                                     blocks_path.string(), decoded_path.string()));
    ASSERT_TRUE(error.empty()) << error;
    const FloatDiff diff = compare_bits(ours, read_floats(decoded_path));

    const double rmse_dragon = relative_rmse(input, ours);
    const double rmse_ggml = relative_rmse(input, read_floats(data.dir / item["ggml_values"].get<std::string>()));
    fmt::print("quantize {:6}: relative RMSE dragon {:.5f}, ggml reference {:.5f} (ratio {:.4f}); "
               "gguf-py decodes dragon's bytes with {} mismatches\n",
               name, rmse_dragon, rmse_ggml, rmse_dragon / rmse_ggml, diff.mismatches);
    EXPECT_EQ(diff.mismatches, 0) << name;
    EXPECT_LE(rmse_dragon, rmse_ggml * 1.01) << name;
  }
}

}  // namespace
}  // namespace dragon
