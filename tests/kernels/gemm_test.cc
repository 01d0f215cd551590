// The prompt GEMM over repacked Q8_0 weights (kernels/gemm.h, kernels/repack.h): the repacked
// layout holds exactly the file's bytes; every SIMD tile equals the scalar tile bit for bit on
// odd shapes (rows not a multiple of 16, 1..17 tokens, odd block counts and K-quant-sized rows);
// the GEMM agrees with the row-dot matmul and with an exact double sum; matmul() finds a
// registered copy and stops using it once unregistered.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "kernels/quantize_activations.h"
#include "kernels/repack.h"
#include "tensor/block_layout.h"
#include "tensor/dequantize.h"
#include "tensor/half.h"
#include "tensor/quantize.h"
#include "util/error.h"

namespace dragon {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct IsaGuard {
  ~IsaGuard() { set_isa_override(std::nullopt); }
};

// A Q8_0 matrix with a few quants at the extremes the kernels must survive: -128 (never made by
// the quantizer but legal in a file) and 127.
std::vector<uint8_t> q8_0_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  const std::vector<float> w = random_values(static_cast<size_t>(rows * cols), seed, 0.05f);
  std::vector<uint8_t> bytes = quantize_tensor(DType::Q8_0, w.data(), rows, cols);
  const size_t block_bytes = layout::q8_0::bytes;
  for (size_t blk = 0; blk < bytes.size() / block_bytes; blk += 5) {
    bytes[blk * block_bytes + layout::q8_0::qs + blk % 32] = 0x80;  // -128
    bytes[blk * block_bytes + layout::q8_0::qs + (blk + 7) % 32] = 0x7f;
  }
  return bytes;
}

TEST(Gemm, RepackedLayoutHoldsTheFileBytes) {
  for (int64_t rows : {1, 16, 37}) {
    const int64_t cols = 32 * 5;
    const std::vector<uint8_t> bytes = q8_0_matrix(rows, cols, 3);
    const TensorView view{"w", DType::Q8_0, {rows, cols}, bytes.data(), bytes.size()};
    const RepackedQ8_0 packed(view);
    ASSERT_EQ(packed.groups(), (rows + 15) / 16);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(packed.group(0)) % 64, 0u);
    int mismatches = 0;
    for (int64_t row = 0; row < packed.groups() * 16; ++row)
      for (int64_t b = 0; b < packed.blocks(); ++b) {
        const uint8_t* group = packed.group(row / 16);
        const int r = static_cast<int>(row % 16);
        uint8_t got[34];
        std::memcpy(got, RepackedQ8_0::scales(group, b) + 2 * r, 2);
        for (int i = 0; i < 32; ++i) got[2 + i] = RepackedQ8_0::quants(group, b)[64 * (i / 4) + 4 * r + i % 4] ^ 0x80;
        uint8_t want[34] = {};  // padding rows: scale 0, quants 0
        if (row < rows) std::memcpy(want, bytes.data() + (row * packed.blocks() + b) * 34, 34);
        mismatches += std::memcmp(got, want, 34) != 0;
      }
    EXPECT_EQ(mismatches, 0) << rows << " rows";
  }
}

TEST(Gemm, RejectsWhatItCannotRepack) {
  std::vector<uint8_t> bytes(34 * 4);
  EXPECT_THROW(RepackedQ8_0(TensorView{"f", DType::F32, {2, 32}, bytes.data(), 256}), Error);
  EXPECT_THROW(RepackedQ8_0(TensorView{"v", DType::Q8_0, {128}, bytes.data(), 136}), Error);
  EXPECT_THROW(RepackedQ8_0(TensorView{"s", DType::Q8_0, {4, 32}, bytes.data(), 100}), Error);
  EXPECT_THROW(RepackedQ8_0(TensorView{"c", DType::Q8_0, {4, 33}, bytes.data(), 136}), Error);
}

// Every ISA's GEMM against the scalar tile (bit-identical) and against the exact sum of the
// dequantized weights times the quantized activations (f32 rounding only).
TEST(Gemm, EveryIsaEqualsScalarBitForBitOnOddShapes) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (int64_t cols : {32 * 13, 256 * 3}) {
    const int64_t rows = 37;
    const std::vector<uint8_t> bytes = q8_0_matrix(rows, cols, 7);
    const TensorView view{"w", DType::Q8_0, {rows, cols}, bytes.data(), bytes.size()};
    const std::vector<float> deq = dequantize_tensor(view);
    const RepackedQ8_0 packed(view);
    const std::vector<float> bias = random_values(rows, 8);
    double worst_vs_exact = 0;
    int mismatches = 0;
    for (int64_t tokens = 1; tokens <= 17; ++tokens) {
      Activations x(tokens, cols);
      x.data = random_values(x.data.size(), 9 + static_cast<uint32_t>(tokens));
      x.data[3] = 30.0f;  // an outlier sets one block's scale
      set_isa_override(Isa::Scalar);
      Activations want;
      gemm_q8_0(x, packed, want, pool, bias.data());
      // exact reference: the activations as quantized, the weights as dequantized
      QuantizedActivations qa;
      quantize_activations(DType::Q8_0, x, qa, pool);
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double exact = bias[r], magnitude = std::fabs(bias[r]);
          for (int64_t i = 0; i < cols; ++i) {
            const double a = static_cast<double>(qa.q[t * cols + i]) * qa.d[t * (cols / 32) + i / 32];
            exact += deq[r * cols + i] * a;
            magnitude += std::fabs(deq[r * cols + i] * a);
          }
          worst_vs_exact = std::max(worst_vs_exact, std::fabs(want.row(t)[r] - exact) / magnitude);
        }
      for (Isa isa : available_isas()) {
        set_isa_override(isa);
        Activations got;
        gemm_q8_0(x, packed, got, pool, bias.data());
        ASSERT_EQ(got.rows, tokens);
        ASSERT_EQ(got.cols, rows);
        mismatches += std::memcmp(got.data.data(), want.data.data(), got.data.size() * sizeof(float)) != 0;
      }
    }
    std::printf("  gemm Q8_0 %lld x %lld, 1..17 tokens: |scalar - exact| <= %.2e of sum |w a|; %d ISA results differ\n",
                static_cast<long long>(rows), static_cast<long long>(cols), worst_vs_exact, mismatches);
    EXPECT_LT(worst_vs_exact, 1e-6);
    EXPECT_EQ(mismatches, 0);
  }
}

// The GEMM and the row-dot path compute the same products; only the f32 summation differs.
TEST(Gemm, AgreesWithRowDotMatmul) {
  IsaGuard guard;
  ThreadPool pool(2);
  const int64_t rows = 50, cols = 32 * 9;
  const std::vector<uint8_t> bytes = q8_0_matrix(rows, cols, 17);
  const TensorView view{"w", DType::Q8_0, {rows, cols}, bytes.data(), bytes.size()};
  const RepackedQ8_0 packed(view);
  double worst = 0;
  for (int64_t tokens : {1, 5, 16}) {
    Activations x(tokens, cols);
    x.data = random_values(x.data.size(), 18 + static_cast<uint32_t>(tokens));
    for (Isa isa : available_isas()) {
      set_isa_override(isa);
      Activations rowdot, gemm;
      matmul(x, view, rowdot, pool);
      gemm_q8_0(x, packed, gemm, pool, nullptr);
      for (size_t i = 0; i < gemm.data.size(); ++i)
        worst = std::max(worst, std::fabs(gemm.data[i] - rowdot.data[i]) / (1.0 + std::fabs(rowdot.data[i])));
    }
  }
  std::printf("  gemm vs row-dot matmul: max rel diff %.2e\n", worst);
  EXPECT_LT(worst, 1e-6);
}

// Several weights in one pass (q / k / v, gate / up): each output equals its own gemm_q8_0 bit for
// bit, whatever the thread split, including weights whose row counts are not multiples of 16.
TEST(Gemm, ManyWeightsInOnePassEqualOneAtATime) {
  IsaGuard guard;
  const int64_t cols = 32 * 7;
  const int64_t rows[] = {37, 16, 5};
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::unique_ptr<RepackedQ8_0>> packed;
  for (int i = 0; i < 3; ++i) {
    bytes.push_back(q8_0_matrix(rows[i], cols, 40 + i));
    packed.push_back(std::make_unique<RepackedQ8_0>(
        TensorView{"w", DType::Q8_0, {rows[i], cols}, bytes.back().data(), bytes.back().size()}));
  }
  const std::vector<float> bias = random_values(rows[1], 44);
  int mismatches = 0, products = 0;
  for (int threads : {1, 2, 3})
    for (int64_t tokens : {1, 9}) {
      ThreadPool pool(threads);
      Activations x(tokens, cols);
      x.data = random_values(x.data.size(), 45 + static_cast<uint32_t>(tokens));
      Activations alone[3], together[3];
      for (int i = 0; i < 3; ++i) gemm_q8_0(x, *packed[i], alone[i], pool, i == 1 ? bias.data() : nullptr);
      GemmOutput outputs[3];
      for (int i = 0; i < 3; ++i) outputs[i] = GemmOutput{packed[i].get(), &together[i], i == 1 ? bias.data() : nullptr};
      gemm_q8_0_many(x, outputs, 3, pool);
      for (int i = 0; i < 3; ++i, ++products) {
        ASSERT_EQ(together[i].rows, tokens);
        ASSERT_EQ(together[i].cols, rows[i]);
        mismatches += std::memcmp(alone[i].data.data(), together[i].data.data(), alone[i].data.size() * 4) != 0;
      }
    }
  std::printf("  gemm_q8_0_many: %d of %d products differ from gemm_q8_0 alone\n", mismatches, products);
  EXPECT_EQ(mismatches, 0);
}

// matmul() runs a registered copy — shown by registering another matrix's copy for the view —
// and the view's own bytes again once it is unregistered.
TEST(Gemm, MatmulUsesTheRegisteredCopyUntilUnregistered) {
  ThreadPool pool(1);
  const int64_t rows = 20, cols = 64;
  const std::vector<uint8_t> a = q8_0_matrix(rows, cols, 31), b = q8_0_matrix(rows, cols, 32);
  const TensorView view_a{"a", DType::Q8_0, {rows, cols}, a.data(), a.size()};
  const TensorView view_b{"b", DType::Q8_0, {rows, cols}, b.data(), b.size()};
  const RepackedQ8_0 packed_b(view_b);
  Activations x(3, cols);
  x.data = random_values(x.data.size(), 33);
  Activations plain_a, plain_b, swapped, restored;
  matmul(x, view_a, plain_a, pool);
  matmul(x, view_b, plain_b, pool);
  register_repacked(view_a, &packed_b);
  EXPECT_EQ(find_repacked(view_a), &packed_b);
  EXPECT_EQ(find_repacked(view_b), nullptr);
  matmul(x, view_a, swapped, pool);
  unregister_repacked(view_a, &packed_b);
  EXPECT_EQ(find_repacked(view_a), nullptr);
  matmul(x, view_a, restored, pool);
  double diff_b = 0, diff_a = 0;
  for (size_t i = 0; i < swapped.data.size(); ++i) {
    diff_b = std::max(diff_b, static_cast<double>(std::fabs(swapped.data[i] - plain_b.data[i])));
    diff_a = std::max(diff_a, static_cast<double>(std::fabs(restored.data[i] - plain_a.data[i])));
  }
  std::printf("  registered copy: |swapped - b| %.2e, |restored - a| %.2e\n", diff_b, diff_a);
  EXPECT_LT(diff_b, 1e-4);
  EXPECT_EQ(diff_a, 0.0);
  // a view of another shape over the same bytes (an expert slice) is not the registered one
  register_repacked(view_a, &packed_b);
  const TensorView slice{"a0", DType::Q8_0, {rows / 2, cols}, a.data(), a.size() / 2};
  EXPECT_EQ(find_repacked(slice), nullptr);
  unregister_repacked(view_a, &packed_b);
}

}  // namespace
}  // namespace dragon
