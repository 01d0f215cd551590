// Kernels against naive double-precision references written out in the test: matmul over every
// weight format the forward pass reads, RMSNorm, softmax, RoPE (both pairings, scaling types),
// attention over f32 / f16 caches, and the thread pool.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <mutex>
#include <cmath>
#include <numbers>
#include <random>

#include "kernels/activation_rounding.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/softmax.h"
#include "kernels/thread_pool.h"
#include "models/arch_common.h"
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

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------
TEST(Kernels, MatmulEveryWeightTypeMatchesDequantizedReference) {
  const int64_t rows = 48, cols = 256, tokens = 5;
  const std::vector<float> w = random_values(rows * cols, 1, 0.1f);
  Activations x(tokens, cols);
  x.data = random_values(tokens * cols, 2);
  const std::vector<float> bias = random_values(rows, 3);
  ThreadPool pool(3);
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K}) {
    const std::vector<uint8_t> bytes = quantize_tensor(type, w.data(), rows, cols);
    const TensorView view{"w", type, {rows, cols}, bytes.data(), bytes.size()};
    const std::vector<float> deq = dequantize_tensor(view);
    Activations y;
    matmul(x, view, y, pool, bias.data());
    ASSERT_EQ(y.rows, tokens);
    ASSERT_EQ(y.cols, rows);
    // The contract: quantized weights see activations rounded to their 8-bit dot type.
    Activations xr = x;
    const auto dot_type = activation_dot_type(type);
    if (dot_type)
      for (int64_t t = 0; t < tokens; ++t) round_activations(*dot_type, xr.row(t), cols);
    double err = 0, rounding_effect = 0;
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t o = 0; o < rows; ++o) {
        double ref = bias[o], unrounded = bias[o];
        for (int64_t i = 0; i < cols; ++i) {
          ref += static_cast<double>(xr.row(t)[i]) * deq[o * cols + i];
          unrounded += static_cast<double>(x.row(t)[i]) * deq[o * cols + i];
        }
        err = std::max(err, std::fabs(ref - y.row(t)[o]));
        rounding_effect = std::max(rounding_effect, std::fabs(ref - unrounded));
      }
    std::printf("  matmul %s: max abs error vs double reference %.3e (activations rounded to %s: moves results by %.3e)\n",
                std::string(dtype_name(type)).c_str(), err, dot_type ? std::string(dtype_name(*dot_type)).c_str() : "-",
                rounding_effect);
    EXPECT_LT(err, 1e-4) << dtype_name(type);
  }
}

TEST(Kernels, ActivationRoundingStaysWithinHalfAStep) {
  for (DType dot : {DType::Q8_0, DType::Q8_K}) {
    const int64_t block = dot == DType::Q8_0 ? 32 : 256, n = 4 * block;
    const std::vector<float> x = random_values(n, 11, 2.0f);
    std::vector<float> r = x;
    round_activations(dot, r.data(), n);
    double worst = 0;  // error in units of the block's step amax / 127
    for (int64_t b = 0; b < n; b += block) {
      float amax = 0;
      for (int64_t i = b; i < b + block; ++i) amax = std::max(amax, std::fabs(x[i]));
      for (int64_t i = b; i < b + block; ++i) worst = std::max(worst, std::fabs(r[i] - x[i]) / (amax / 127.0));
    }
    std::printf("  %s rounding: worst error %.3f steps\n", std::string(dtype_name(dot)).c_str(), worst);
    // Q8_0 stores its scale as f16: up to 127 steps times its relative rounding of 2^-11 more.
    EXPECT_LE(worst, dot == DType::Q8_0 ? 0.5 + 127 * 0x1p-11 : 0.5 + 1e-4) << dtype_name(dot);
    EXPECT_NE(r, x);
  }
  EXPECT_FALSE(activation_dot_type(DType::F16).has_value());
  EXPECT_EQ(activation_dot_type(DType::Q4_K), DType::Q8_K);
  EXPECT_EQ(activation_dot_type(DType::Q4_0), DType::Q8_0);
}

TEST(Kernels, MatmulRejectsMismatchedShapes) {
  std::vector<float> w(4 * 8);
  const TensorView view{"blk.0.attn_q.weight", DType::F32, {4, 8}, reinterpret_cast<uint8_t*>(w.data()), w.size() * 4};
  Activations x(1, 6), y;
  ThreadPool pool(1);
  try {
    matmul(x, view, y, pool);
    FAIL() << "accepted 6 features for an 8-wide weight";
  } catch (const Error& e) {
    std::printf("  %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos);
  }
}

TEST(Kernels, EmbeddingRowsRejectOutOfRangeIds) {
  std::vector<float> table(10 * 4, 1.0f);
  const TensorView view{"token_embd.weight", DType::F32, {10, 4}, reinterpret_cast<uint8_t*>(table.data()), 160};
  Activations out;
  EXPECT_THROW(embedding_rows(view, {1, 10}, out), Error);
  EXPECT_THROW(embedding_rows(view, {-1}, out), Error);
  embedding_rows(view, {0, 9}, out);
  EXPECT_EQ(out.rows, 2);
}

TEST(Kernels, RmsNormMatchesFormula) {
  const int64_t n = 300;
  const std::vector<float> x = random_values(n, 4, 3.0f), w = random_values(n, 5);
  std::vector<float> y(n);
  rms_norm(x.data(), w.data(), y.data(), n, 1e-6f);
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double scale = 1.0 / std::sqrt(ss / n + 1e-6);
  double err = 0;
  for (int64_t i = 0; i < n; ++i) err = std::max(err, std::fabs(x[i] * scale * w[i] - y[i]));
  std::printf("  rms_norm max abs error %.3e\n", err);
  EXPECT_LT(err, 1e-5);
}

TEST(Kernels, SoftmaxIsNormalizedAndStable) {
  std::vector<float> x = {1000.0f, 999.0f, -5.0f, 1000.0f};
  softmax(x.data(), 4);
  const double e1 = std::exp(-1.0), denom = 2 + e1 + std::exp(-1005.0);
  EXPECT_NEAR(x[0], 1 / denom, 1e-7);
  EXPECT_NEAR(x[1], e1 / denom, 1e-7);
  EXPECT_NEAR(x[0] + x[1] + x[2] + x[3], 1.0, 1e-6);
}

// ---------------------------------------------------------------------------------------------
ModelConfig rope_config(int64_t head_dim, int64_t rotary_dim, bool interleaved) {
  ModelConfig c;
  c.head_dim = head_dim;
  c.rotary_dim = rotary_dim;
  c.rope_theta = 10000.0;
  c.rope_interleaved = interleaved;
  return c;
}

TEST(Kernels, RopeNeoxEqualsInterleavedOnPermutedRows) {
  // llama.cpp's Llama files permute q/k rows so that its interleaved rope equals HF's NeoX rope:
  // the two kernels must agree under exactly that permutation (arch_common's permute_qk_rows).
  const int64_t head_dim = 64, heads = 3;
  const std::vector<float> x = random_values(heads * head_dim, 6);
  std::vector<float> neox = x;
  Rope(rope_config(head_dim, head_dim, false)).apply(neox.data(), heads, 37);
  std::vector<float> inter = arch::permute_qk_rows(x, heads * head_dim, 1, heads);
  Rope(rope_config(head_dim, head_dim, true)).apply(inter.data(), heads, 37);
  const std::vector<float> neox_permuted = arch::permute_qk_rows(neox, heads * head_dim, 1, heads);
  const double err = max_abs_diff(inter.data(), neox_permuted.data(), inter.size());
  std::printf("  rope neox vs interleaved (permuted) max abs diff %.3e\n", err);
  EXPECT_LT(err, 1e-5);
}

TEST(Kernels, RopeMatchesRotationFormulaAndLeavesPartialTailAlone) {
  const int64_t head_dim = 16, rotary = 8, pos = 5;
  const std::vector<float> x = random_values(head_dim, 7);
  std::vector<float> y = x;
  Rope(rope_config(head_dim, rotary, false)).apply(y.data(), 1, pos);
  for (int64_t i = 0; i < rotary / 2; ++i) {
    const double angle = pos * std::pow(10000.0, -2.0 * i / rotary);
    EXPECT_NEAR(y[i], x[i] * std::cos(angle) - x[i + rotary / 2] * std::sin(angle), 1e-5);
    EXPECT_NEAR(y[i + rotary / 2], x[i] * std::sin(angle) + x[i + rotary / 2] * std::cos(angle), 1e-5);
  }
  for (int64_t i = rotary; i < head_dim; ++i) EXPECT_EQ(y[i], x[i]) << "dimension " << i << " is past rotary_dim";
}

TEST(Kernels, RopeScalingTypes) {
  ModelConfig c = rope_config(128, 128, false);
  double mscale = 0;
  const std::vector<double> plain = rope_inv_freq(c, 128, &mscale);
  EXPECT_EQ(mscale, 1.0);

  c.rope_scaling.type = "linear";
  c.rope_scaling.factor = 4;
  std::vector<double> f = rope_inv_freq(c, 128, &mscale);
  for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(f[i], plain[i] / 4, 1e-15);

  // YaRN (Qwen's long-context setting): the fastest frequencies stay, the slowest are divided by
  // the factor, and cos/sin are scaled by 0.1 ln(factor) + 1.
  c.rope_scaling.type = "yarn";
  c.rope_scaling.original_context_length = 32768;
  f = rope_inv_freq(c, 128, &mscale);
  EXPECT_NEAR(mscale, 0.1 * std::log(4.0) + 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(f.front(), plain.front());
  EXPECT_NEAR(f.back(), plain.back() / 4, 1e-15);
  for (size_t i = 1; i < f.size(); ++i) EXPECT_LT(f[i], f[i - 1]) << "frequencies must stay decreasing";

  // Llama 3.1: wavelengths below original/high_freq_factor unchanged, above original/low divided.
  c.rope_scaling = RopeScaling{};
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 8;
  c.rope_scaling.original_context_length = 8192;
  c.rope_theta = 500000;
  ModelConfig b = rope_config(128, 128, false);
  b.rope_theta = 500000;
  const std::vector<double> base3 = rope_inv_freq(b, 128, &mscale);
  f = rope_inv_freq(c, 128, &mscale);
  int unchanged = 0, divided = 0, blended = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const double wavelen = 2 * std::numbers::pi / base3[i];
    if (wavelen < 8192 / 4.0) { EXPECT_DOUBLE_EQ(f[i], base3[i]); ++unchanged; }
    else if (wavelen > 8192 / 1.0) { EXPECT_NEAR(f[i], base3[i] / 8, 1e-18); ++divided; }
    else { EXPECT_LT(f[i], base3[i]); EXPECT_GT(f[i], base3[i] / 8); ++blended; }
  }
  std::printf("  llama3: %d unchanged, %d blended, %d divided frequencies\n", unchanged, blended, divided);
  EXPECT_GT(unchanged, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);

  c.rope_scaling.type = "longrope";
  EXPECT_THROW(rope_inv_freq(c, 128, &mscale), Error);
}

// Kimi K2's YaRN (64 rope dims, base 50000, 4096 original positions, factor 32): with its betas
// (beta_fast = beta_slow = 1) both correction dims are the one at 1 rotation, 19.16, so the ramp
// runs from pair 19 to 20 — pairs 0-19 keep their frequency, 20-31 are divided by 32, none blend.
// With llama.cpp's default beta_fast 32 (what its deepseek2 loader uses whatever the file says) the
// ramp starts at pair 8 and pairs 9-19 blend: the two disagree on 11 of the 32 frequencies.
TEST(Kernels, RopeYarnBetasSetTheCorrectionRange) {
  ModelConfig c = rope_config(64, 64, false);
  c.rope_theta = 50000;
  double mscale = 0;
  const std::vector<double> plain = rope_inv_freq(c, 64, &mscale);
  c.rope_scaling.type = "yarn";
  c.rope_scaling.factor = 32;
  c.rope_scaling.original_context_length = 4096;
  c.rope_scaling.mscale = c.rope_scaling.mscale_all_dim = 1.0;
  auto count = [&](double beta_fast, double beta_slow) {
    c.rope_scaling.beta_fast = beta_fast;
    c.rope_scaling.beta_slow = beta_slow;
    const std::vector<double> f = rope_inv_freq(c, 64, &mscale);
    EXPECT_DOUBLE_EQ(mscale, 1.0);  // mscale == mscale_all_dim: the ratio is 1
    int kept = 0, blended = 0, divided = 0, last_kept = -1;
    for (size_t i = 0; i < f.size(); ++i) {
      if (std::fabs(f[i] - plain[i]) <= 1e-15 * plain[i]) ++kept, last_kept = static_cast<int>(i);
      else if (std::fabs(f[i] - plain[i] / 32) <= 1e-15 * plain[i]) ++divided;
      else ++blended;
    }
    std::printf("  yarn betas %g/%g: %d kept (last pair %d), %d blended, %d divided\n", beta_fast, beta_slow, kept,
                last_kept, blended, divided);
    return std::array<int, 3>{kept, blended, divided};
  };
  EXPECT_EQ(count(1, 1), (std::array<int, 3>{20, 0, 12}));
  EXPECT_EQ(count(32, 1), (std::array<int, 3>{9, 11, 12}));
}

// ---------------------------------------------------------------------------------------------
TEST(Kernels, AttentionMatchesNaiveOnF32AndF16Caches) {
  const int64_t n_pos = 37, head_dim = 64, kv_heads = 2, width = kv_heads * head_dim;
  const std::vector<float> q = random_values(head_dim, 8), k = random_values(n_pos * width, 9),
                           v = random_values(n_pos * width, 10);
  const float scale = 0.125f;
  for (int64_t kvh = 0; kvh < kv_heads; ++kvh) {
    std::vector<double> s(n_pos), ref(head_dim, 0.0);
    double max = -1e300, sum = 0;
    for (int64_t p = 0; p < n_pos; ++p) {
      for (int64_t i = 0; i < head_dim; ++i) s[p] += static_cast<double>(q[i]) * k[p * width + kvh * head_dim + i];
      s[p] *= scale;
      max = std::max(max, s[p]);
    }
    for (double& x : s) sum += (x = std::exp(x - max));
    for (int64_t p = 0; p < n_pos; ++p)
      for (int64_t i = 0; i < head_dim; ++i) ref[i] += s[p] / sum * v[p * width + kvh * head_dim + i];

    std::vector<float> out(head_dim), scores;
    KVSpan span{k.data() + kvh * head_dim, v.data() + kvh * head_dim, width, width, CacheType::F32};
    attend_head(q.data(), span, n_pos, head_dim, head_dim, scale, out.data(), scores);
    double err = 0;
    for (int64_t i = 0; i < head_dim; ++i) err = std::max(err, std::fabs(out[i] - ref[i]));
    std::printf("  attention f32 cache, kv head %ld: max abs error %.3e\n", static_cast<long>(kvh), err);
    EXPECT_LT(err, 1e-5);

    std::vector<uint16_t> k16(k.size()), v16(v.size());
    for (size_t i = 0; i < k.size(); ++i) k16[i] = f32_to_f16(k[i]), v16[i] = f32_to_f16(v[i]);
    span = KVSpan{k16.data() + kvh * head_dim, v16.data() + kvh * head_dim, width, width, CacheType::F16};
    attend_head(q.data(), span, n_pos, head_dim, head_dim, scale, out.data(), scores);
    err = 0;
    for (int64_t i = 0; i < head_dim; ++i) err = std::max(err, std::fabs(out[i] - ref[i]));
    std::printf("  attention f16 cache, kv head %ld: max abs error %.3e\n", static_cast<long>(kvh), err);
    EXPECT_LT(err, 5e-3);
  }
}

TEST(Kernels, AlibiSlopes) {
  // 8 heads: 2^-1 .. 2^-8. 12 heads: the 8 of the power of two, then odd powers of 2^-0.5.
  const std::vector<float> s8 = alibi_slopes(8);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s8[h], std::pow(2.0f, -(h + 1.0f)));
  const std::vector<float> s12 = alibi_slopes(12);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s12[h], s8[h]);
  for (int h = 8; h < 12; ++h) EXPECT_FLOAT_EQ(s12[h], std::pow(2.0f, -0.5f * (2 * (h - 8) + 1)));
  // The bias shifts scores by slope * (key - query): the last key gets none.
  const std::vector<float> q = {1, 0}, k = {0, 0, 0, 0, 0, 0}, v = {1, 0, 2, 0, 4, 0};
  std::vector<float> out(2), scores;
  attend_head(q.data(), KVSpan{k.data(), v.data(), 2, 2, CacheType::F32}, 3, 2, 2, 1.0f, out.data(), scores, 0.5f);
  const double w0 = std::exp(-1.0), w1 = std::exp(-0.5), w2 = 1.0, sum = w0 + w1 + w2;
  EXPECT_NEAR(out[0], (w0 * 1 + w1 * 2 + w2 * 4) / sum, 1e-6);
}

TEST(Kernels, ThreadPoolCoversTheRangeOnceAndPropagatesErrors) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " n " << n << " i " << i;
    }
    EXPECT_THROW(pool.parallel_for(10, [](int64_t, int64_t) { fail("chunk failed"); }), Error);
    int64_t total = 0;
    std::mutex m;
    pool.parallel_for(100, [&](int64_t b, int64_t e) { std::lock_guard l(m); total += e - b; });
    EXPECT_EQ(total, 100) << "the pool must still work after an error";
  }
}

}  // namespace
}  // namespace dragon
