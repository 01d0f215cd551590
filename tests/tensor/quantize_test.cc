// Round trips and edge cases of dragon's number formats: quantize -> dequantize error bounds per
// type on gaussian data, degenerate blocks (zeros, one huge outlier, constants), bad sizes and
// types, and the f16 / bf16 conversions at their edges (inf, NaN, subnormals, rounding ties).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/dequantize.h"
#include "tensor/half.h"
#include "tensor/quantize.h"
#include "util/error.h"

namespace dragon {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

std::vector<float> round_trip(DType type, const std::vector<float>& x) {
  const std::vector<uint8_t> bytes = quantize_tensor(type, x.data(), 1, static_cast<int64_t>(x.size()));
  EXPECT_EQ(bytes.size(), dtype_row_bytes(type, static_cast<int64_t>(x.size())));
  std::vector<float> y(x.size());
  dequantize_row(type, bytes.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

struct Bound {
  DType type;
  double max_relative_rmse;  // ~10% above what the quantizer measures on N(0, 1)
};

TEST(Quantize, RoundTripErrorOnGaussianData) {
  const Bound bounds[] = {
      {DType::F32, 0.0},       {DType::F16, 2.3e-4},    {DType::BF16, 1.85e-3},  {DType::Q8_0, 6.0e-3},
      {DType::Q8_K, 7.8e-3},   {DType::Q6_K, 1.92e-2},  {DType::Q5_1, 4.2e-2},   {DType::Q5_K, 3.86e-2},
      {DType::Q5_0, 4.75e-2},  {DType::Q4_1, 8.65e-2},  {DType::Q4_K, 7.8e-2},   {DType::Q4_0, 9.6e-2},
      {DType::IQ4_NL, 8.2e-2}, {DType::IQ4_XS, 8.25e-2},
  };
  const std::vector<float> x = gaussian(64 * 1024, 7);
  for (const Bound& bound : bounds) {
    const std::clock_t start = std::clock();  // CPU time: the machine is shared
    const std::vector<float> y = round_trip(bound.type, x);
    const double seconds = std::max(1e-6, double(std::clock() - start) / CLOCKS_PER_SEC);
    const double rmse = relative_rmse(x, y);
    fmt::print("round trip {:6} on N(0,1): relative RMSE {:.3e} (bound {:.2e}), {:.1f} M values/s (CPU)\n",
               dtype_name(bound.type), rmse, bound.max_relative_rmse, x.size() / seconds / 1e6);
    EXPECT_LE(rmse, bound.max_relative_rmse) << dtype_name(bound.type);
  }
}

// Every quantizable block type: zeros stay exact zeros; a block with one huge value keeps it
// (to within a few percent) and stays finite; a constant block is nearly exact.
TEST(Quantize, DegenerateBlocks) {
  const DType types[] = {DType::Q4_0, DType::Q4_1,  DType::Q5_0, DType::Q5_1,   DType::Q8_0,  DType::Q4_K,
                         DType::Q5_K, DType::Q6_K,  DType::Q8_K, DType::IQ4_NL, DType::IQ4_XS};
  for (DType type : types) {
    const std::string name(dtype_name(type));
    const std::vector<float> zeros(512, 0.0f);
    for (float v : round_trip(type, zeros)) ASSERT_EQ(v, 0.0f) << name << " zeros";

    std::vector<float> outlier = gaussian(512, 11);
    outlier[77] = 5000.0f;
    const std::vector<float> y = round_trip(type, outlier);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << name << " outlier";
    const double outlier_error = std::fabs(y[77] - outlier[77]) / outlier[77];

    const std::vector<float> constant(512, -0.75f);
    const std::vector<float> yc = round_trip(type, constant);
    double constant_error = 0;
    for (float v : yc) constant_error = std::max(constant_error, std::fabs(double(v) + 0.75) / 0.75);
    fmt::print("{:6}: outlier 5000 -> {:.2f} (relative error {:.2e}); constant -0.75: max relative error {:.2e}\n",
               name, y[77], outlier_error, constant_error);
    EXPECT_LE(outlier_error, 0.04) << name;
    EXPECT_LE(constant_error, 0.04) << name;
  }
}

TEST(Quantize, RejectsBadSizesAndTypes) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> bytes(4096);
  EXPECT_THROW(quantize_row(DType::Q4_0, x.data(), bytes.data(), 33), Error);
  EXPECT_THROW(quantize_row(DType::Q4_K, x.data(), bytes.data(), 288), Error);
  EXPECT_THROW(quantize_tensor(DType::Q8_0, x.data(), 3, 100), Error);
  EXPECT_THROW(quantize_row(DType::Q2_K, x.data(), bytes.data(), 256), Error);      // no quantizer
  EXPECT_THROW(quantize_row(DType::F8_E4M3, x.data(), bytes.data(), 32), Error);    // not here
  EXPECT_THROW(dequantize_row(DType::Q8_0, bytes.data(), x.data(), 31), Error);
  EXPECT_THROW(dequantize_row(DType::IQ2_XXS, bytes.data(), x.data(), 256), Error);  // unsupported
  EXPECT_THROW(dequantize_row(static_cast<DType>(77), bytes.data(), x.data(), 32), Error);
  EXPECT_TRUE(can_quantize(DType::Q4_K) && can_dequantize(DType::Q3_K) && !can_quantize(DType::Q3_K));
  try {
    quantize_row(DType::Q4_0, x.data(), bytes.data(), 33);
  } catch (const Error& e) {
    fmt::print("error for 33 Q4_0 elements: {}\n", e.what());
    EXPECT_NE(std::string(e.what()).find("Q4_0"), std::string::npos);
  }
}

TEST(Quantize, TensorRowsAreIndependentAndDequantizeTensorChecksSize) {
  const int64_t rows = 3, cols = 512;
  const std::vector<float> x = gaussian(rows * cols, 3);
  const std::vector<uint8_t> bytes = quantize_tensor(DType::Q4_K, x.data(), rows, cols);
  const uint64_t row_bytes = dtype_row_bytes(DType::Q4_K, cols);
  ASSERT_EQ(bytes.size(), rows * row_bytes);
  std::vector<uint8_t> row(row_bytes);
  quantize_row(DType::Q4_K, x.data() + cols, row.data(), cols);
  EXPECT_EQ(0, std::memcmp(row.data(), bytes.data() + row_bytes, row_bytes));

  TensorView view{"blk.0.ffn_up.weight", DType::Q4_K, {rows, cols}, bytes.data(), bytes.size()};
  const std::vector<float> all = dequantize_tensor(view);
  std::vector<float> second(cols);
  dequantize_row(DType::Q4_K, bytes.data() + row_bytes, second.data(), cols);
  EXPECT_EQ(0, std::memcmp(second.data(), all.data() + cols, cols * sizeof(float)));

  view.nbytes -= 1;
  try {
    dequantize_tensor(view);
    ADD_FAILURE() << "a short tensor was accepted";
  } catch (const Error& e) {
    fmt::print("error for a short tensor: {}\n", e.what());
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos);
  }
  view.nbytes += 1;
  view.shape = {rows, 500};
  EXPECT_THROW(dequantize_tensor(view), Error);
}

// ---- f16 ----

uint16_t f16_bits_of(float v) { return f32_to_f16(v); }

TEST(Half, F16EdgeCases) {
  EXPECT_EQ(f16_bits_of(0.0f), 0x0000);
  EXPECT_EQ(f16_bits_of(-0.0f), 0x8000);
  EXPECT_EQ(f16_bits_of(1.0f), 0x3c00);
  EXPECT_EQ(f16_bits_of(-2.0f), 0xc000);
  EXPECT_EQ(f16_bits_of(INFINITY), 0x7c00);
  EXPECT_EQ(f16_bits_of(-INFINITY), 0xfc00);
  EXPECT_EQ(f16_bits_of(65504.0f), 0x7bff);    // largest finite
  EXPECT_EQ(f16_bits_of(65519.996f), 0x7bff);  // just below the tie with 65536
  EXPECT_EQ(f16_bits_of(65520.0f), 0x7c00);    // tie: rounds to even = inf
  EXPECT_EQ(f16_bits_of(1e10f), 0x7c00);
  EXPECT_EQ(f16_bits_of(std::ldexp(1.0f, -24)), 0x0001);          // smallest subnormal
  EXPECT_EQ(f16_bits_of(std::ldexp(1.0f, -25)), 0x0000);          // tie with 0: even
  EXPECT_EQ(f16_bits_of(std::ldexp(1.0f, -25) * 1.0001f), 0x0001);
  EXPECT_EQ(f16_bits_of(std::ldexp(3.0f, -25)), 0x0002);          // 1.5 ulp: tie to even (2)
  EXPECT_EQ(f16_bits_of(std::ldexp(5.0f, -25)), 0x0002);          // 2.5 ulp: tie to even (2)
  EXPECT_EQ(f16_bits_of(std::ldexp(1023.5f, -24)), 0x0400);       // largest subnormal + 1/2: to the min normal
  EXPECT_EQ(f16_bits_of(std::ldexp(1.0f, -14)), 0x0400);          // smallest normal
  EXPECT_EQ(f16_bits_of(1.0f + std::ldexp(1.0f, -11)), 0x3c00);   // tie: down to even
  EXPECT_EQ(f16_bits_of(1.0f + std::ldexp(3.0f, -11)), 0x3c02);   // tie: up to even
  EXPECT_EQ(f16_bits_of(1.0f + std::ldexp(1.01f, -11)), 0x3c01);  // just above the tie
  const uint16_t nan = f16_bits_of(std::nanf(""));
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_EQ(f16_bits_of(-std::nanf("")) & 0x8000, 0x8000);
  EXPECT_NE(f32_to_f16(bits_to_f32(0x7f800001u)) & 0x03ff, 0);  // a signalling NaN stays NaN

  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0xfc00), -INFINITY);
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

// Every f16 bit pattern survives f16 -> f32 -> f16; the f32 value is exact (checked against the
// definition: sign * mantissa * 2^exponent).
TEST(Half, F16AllPatternsRoundTrip) {
  int checked = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exponent == 0x1f) {
      ASSERT_EQ(std::isnan(f), mantissa != 0) << h;
      if (mantissa) {
        EXPECT_EQ(f32_to_f16(f) & 0xfe00, (h & 0xfe00) | 0x0200) << h;  // quiet, sign kept
        continue;
      }
    } else {
      const float expected = exponent == 0 ? sign * std::ldexp(float(mantissa), -24)
                                           : sign * std::ldexp(float(mantissa + 1024), exponent - 25);
      ASSERT_EQ(f, expected) << h;
    }
    ASSERT_EQ(f32_to_f16(f), h) << h;
    ++checked;
  }
  fmt::print("f16 patterns round-tripped exactly: {}\n", checked);
}

// f32 -> f16 against the definition: the nearest f16 (ties to even), on random f32 bit patterns.
TEST(Half, F16RoundsToNearestEven) {
  std::mt19937 rng(5);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const float f = bits_to_f32(static_cast<uint32_t>(rng()) & 0x8fffffffu);  // magnitude < 2^17
    const uint16_t h = f32_to_f16(f);
    const double value = f, got = f16_to_f32(h);
    // neighbours of the result must not be strictly closer, and on a tie the result is even
    for (int step : {-1, 1}) {
      const uint16_t other = static_cast<uint16_t>(h + step);
      if ((other & 0x7fff) > 0x7c00 || ((h ^ other) & 0x8000)) continue;
      const double alt = f16_to_f32(other);
      if (std::isinf(got)) continue;
      ASSERT_LE(std::fabs(value - got), std::fabs(value - alt)) << f;
      if (std::fabs(value - got) == std::fabs(value - alt)) {
        ASSERT_EQ(h & 1, 0) << f;
      }
    }
    ++checked;
  }
  fmt::print("f32 -> f16 nearest-even checks: {}\n", checked);
}

// ---- bf16 ----

TEST(Half, Bf16EdgeCases) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000u)), 0x3f80);  // tie: down to even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000u)), 0x3f82);  // tie: up to even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808001u)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f800001u)), 0x7fc0);  // signalling NaN made quiet
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0xffc12345u)), 0xffc1);  // payload's top bits and sign kept
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7fff0000u)), 0x7fff);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x00010000u)), 0x0001);  // subnormals are kept, not flushed
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  int checked = 0;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    ASSERT_EQ(f32_to_bits(f), b << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), b);
      ++checked;
    }
  }
  fmt::print("bf16 patterns round-tripped exactly: {}\n", checked);
}

}  // namespace
}  // namespace dragon
