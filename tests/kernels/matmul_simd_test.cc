// Every SIMD row-dot kernel this CPU can run against the scalar reference (kernels/dot_scalar.cc)
// and against an exact double-precision sum, for every weight format with a kernel, odd row
// counts and 1..33 tokens; the activation quantizer against round_activations; the ISA override.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "kernels/activation_rounding.h"
#include "kernels/cpu_features.h"
#include "kernels/dot_kernels.h"
#include "kernels/dot_simd_common.h"
#include "kernels/matmul.h"
#include "kernels/quantize_activations.h"
#include "tensor/block_layout.h"
#include "tensor/dequantize.h"
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

const DType kKernelTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                              DType::IQ4_XS, DType::F32, DType::F16, DType::BF16};

// Restores the environment's ISA when a test ends, whatever it forced.
struct IsaGuard {
  ~IsaGuard() { set_isa_override(std::nullopt); }
};

// Columns that exercise each kernel's tails: an odd number of Q8_0 blocks, two and three K-quant
// super-blocks, and float rows that are not a multiple of any vector width.
int64_t test_cols(DType type) {
  if (type == DType::Q8_0 || type == DType::Q4_0 || type == DType::Q5_0) return 32 * 13;
  if (!dtype_is_quantized(type)) return 16 * 12 + 9;
  return 768;
}

TEST(MatmulSimd, EveryKernelMatchesScalarReferenceAndExactSum) {
  const int64_t rows = 7;
  for (DType type : kKernelTypes) {
    const int64_t cols = test_cols(type);
    const std::vector<float> w = random_values(rows * cols, 11, 0.05f);
    const std::vector<uint8_t> bytes = quantize_tensor(type, w.data(), rows, cols);
    const TensorView view{"w", type, {rows, cols}, bytes.data(), bytes.size()};
    const std::vector<float> deq = dequantize_tensor(view);
    const uint64_t row_bytes = dtype_row_bytes(type, cols);

    Activations x(kMaxDotTokens, cols);
    x.data = random_values(x.data.size(), 12);
    x.data[5] = 40.0f;  // an outlier: one block's scale is set by it
    QuantizedActivations qa;
    ThreadPool pool(1);
    const auto act_type = dot_activation_type(type);
    if (act_type) quantize_activations(*act_type, x, qa, pool);
    DotActivation acts[kMaxDotTokens];
    Activations used = x;  // the activation values the kernels see
    for (int t = 0; t < kMaxDotTokens; ++t) {
      if (act_type) {
        acts[t].q = qa.row(t);
        for (int64_t i = 0; i < cols; ++i) used.row(t)[i] = acts[t].q.q[i] * acts[t].q.d[i / qa.block()];
      } else {
        acts[t].f = x.row(t);
      }
    }

    const RowDotFn reference = row_dot_scalar(type);
    ASSERT_NE(reference, nullptr) << dtype_name(type);
    for (Isa isa : available_isas()) {
      const RowDotFn kernel = row_dot_for(type, isa);
      ASSERT_NE(kernel, nullptr);
      double worst_vs_exact = 0, worst_vs_scalar = 0;
      for (int n_tok = 1; n_tok <= kMaxDotTokens; ++n_tok)
        for (int64_t r = 0; r < rows; ++r) {
          float got[kMaxDotTokens], want[kMaxDotTokens];
          kernel(bytes.data() + r * row_bytes, acts, n_tok, cols, got);
          reference(bytes.data() + r * row_bytes, acts, n_tok, cols, want);
          for (int t = 0; t < n_tok; ++t) {
            double exact = 0, magnitude = 0;
            for (int64_t i = 0; i < cols; ++i) {
              exact += static_cast<double>(deq[r * cols + i]) * used.row(t)[i];
              magnitude += std::fabs(static_cast<double>(deq[r * cols + i]) * used.row(t)[i]);
            }
            // f32 accumulation over `cols` terms: relative to the sum of |terms|.
            const double vs_exact = std::fabs(got[t] - exact) / magnitude;
            const double vs_scalar = std::fabs(got[t] - want[t]) / magnitude;
            worst_vs_exact = std::max(worst_vs_exact, vs_exact);
            worst_vs_scalar = std::max(worst_vs_scalar, vs_scalar);
          }
        }
      std::printf("  %-6s %-7s cols %4lld: |kernel - exact| <= %.2e, |kernel - scalar| <= %.2e (of sum |w a|)\n",
                  std::string(dtype_name(type)).c_str(), std::string(isa_name(isa)).c_str(),
                  static_cast<long long>(cols), worst_vs_exact, worst_vs_scalar);
      EXPECT_LT(worst_vs_exact, 2e-6) << dtype_name(type) << " " << isa_name(isa);
      EXPECT_LT(worst_vs_scalar, 2e-6) << dtype_name(type) << " " << isa_name(isa);
    }
  }
}

TEST(MatmulSimd, MatmulOnEveryIsaAgreesForOddShapesAndOneTo33Tokens) {
  IsaGuard guard;
  ThreadPool pool(2);
  const int64_t rows = 37;  // not a multiple of any tile or of the thread split
  for (DType type : kKernelTypes) {
    const int64_t cols = test_cols(type);
    const std::vector<float> w = random_values(rows * cols, 21, 0.05f);
    const std::vector<uint8_t> bytes = quantize_tensor(type, w.data(), rows, cols);
    const TensorView view{"w", type, {rows, cols}, bytes.data(), bytes.size()};
    const std::vector<float> bias = random_values(rows, 22);
    double worst = 0;
    for (int64_t tokens : {1, 2, 3, 4, 5, 7, 9, 16, 33}) {
      Activations x(tokens, cols);
      x.data = random_values(x.data.size(), 23 + static_cast<uint32_t>(tokens));
      set_isa_override(Isa::Scalar);
      Activations want;
      matmul(x, view, want, pool, bias.data());
      for (Isa isa : available_isas()) {
        set_isa_override(isa);
        Activations got;
        matmul(x, view, got, pool, bias.data());
        ASSERT_EQ(got.rows, tokens);
        ASSERT_EQ(got.cols, rows);
        for (size_t i = 0; i < got.data.size(); ++i) {
          const double diff = std::fabs(got.data[i] - want.data[i]) / (1.0 + std::fabs(want.data[i]));
          worst = std::max(worst, diff);
          ASSERT_LT(diff, 1e-5) << dtype_name(type) << " " << isa_name(isa) << " tokens " << tokens << " at " << i;
        }
      }
    }
    std::printf("  matmul %-6s rows %lld, 1..33 tokens, every ISA vs scalar: max rel diff %.2e\n",
                std::string(dtype_name(type)).c_str(), static_cast<long long>(rows), worst);
  }
}

// Each ISA's table hands out its own code: a kernel of one file silently replacing another's
// (e.g. through identically named weak template instances) would leave a path untested.
TEST(MatmulSimd, EachIsaTableHasItsOwnKernels) {
  int distinct = 0;
  for (DType type : kKernelTypes) {
    const RowDotFn scalar = row_dot_scalar(type), avx2 = row_dot_avx2(type), avx512 = row_dot_avx512(type);
    if (avx2) EXPECT_NE(avx2, scalar) << dtype_name(type);
    if (avx512) EXPECT_NE(avx512, avx2) << dtype_name(type);
    if (avx512) EXPECT_NE(avx512, scalar) << dtype_name(type);
    distinct += (avx2 != nullptr) + (avx512 != nullptr);
  }
  std::printf("  %d SIMD kernels in the tables (0 off x86-64)\n", distinct);
}

TEST(MatmulSimd, ActivationQuantizerEqualsRoundActivations) {
  ThreadPool pool(2);
  for (DType type : {DType::Q8_0, DType::Q8_K}) {
    Activations x(9, 512);
    x.data = random_values(x.data.size(), 31);
    for (int i = 0; i < 256; ++i) x.row(3)[i] = 0.0f;  // an all-zero block
    x.row(4)[17] = -50.0f;                             // a negative extreme sets the Q8_K scale
    QuantizedActivations qa;
    quantize_activations(type, x, qa, pool);
    int mismatches = 0;
    for (int64_t t = 0; t < x.rows; ++t) {
      std::vector<float> rounded(x.row(t), x.row(t) + x.cols);
      round_activations(type, rounded.data(), x.cols);
      const QuantizedRowView row = qa.row(t);
      for (int64_t i = 0; i < x.cols; ++i)
        if (row.q[i] * row.d[i / qa.block()] != rounded[i]) ++mismatches;
      if (type == DType::Q8_K)
        for (int64_t g = 0; g < x.cols / 16; ++g) {
          int sum = 0;
          for (int i = 0; i < 16; ++i) sum += row.q[16 * g + i];
          EXPECT_EQ(row.bsums[g], sum);
        }
    }
    std::printf("  %s quantizer: %d of %lld values differ from round_activations\n", std::string(dtype_name(type)).c_str(),
                mismatches, static_cast<long long>(x.data.size()));
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(MatmulSimd, KQuantScaleUnpackMatchesLayout) {
  std::mt19937 rng(41);
  for (int trial = 0; trial < 200; ++trial) {
    uint8_t packed[12];
    for (uint8_t& b : packed) b = static_cast<uint8_t>(rng());
    uint8_t scales[8], mins[8];
    simd::unpack_k4_scales(packed, scales, mins);
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      layout::unpack_scale_min_k4(packed, j, scale, min);
      ASSERT_EQ(scales[j], scale) << "trial " << trial << " j " << j;
      ASSERT_EQ(mins[j], min) << "trial " << trial << " j " << j;
    }
  }
}

TEST(MatmulSimd, IsaOverrideAndNames) {
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    set_isa_override(isa);
    EXPECT_EQ(active_isa(), isa);
    EXPECT_EQ(isa_from_name(isa_name(isa)), isa);
  }
  EXPECT_FALSE(isa_from_name("sse9").has_value());
  std::printf("  this CPU: %s (DRAGON_ISA caps it)\n", std::string(isa_name(detected_isa())).c_str());
  if (detected_isa() < Isa::Avx512) EXPECT_THROW(set_isa_override(Isa::Avx512), Error);
}

}  // namespace
}  // namespace dragon
