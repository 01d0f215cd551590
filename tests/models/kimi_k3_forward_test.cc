// Kimi-K3 (Kimi Linear + block attention residuals, latent MoE, SiTU, MLA output gate, full-rank
// bounded KDA gate) on a small synthetic model of the kimi-k3 preset (4 layers: KDA, KDA, KDA,
// MLA; a dense first layer; attention residual blocks of 2, so checkpoints at layers 0 and 2):
//  - the config read from the HF config.json (text_config) and from the GGUF metadata agree on
//    every K3 field;
//  - the two new pieces against their formulas: SiTU (blocks::GluActivation) and the attention
//    residual mix (models/attn_residual.h);
//  - the chunked prefill (75 tokens) against token-by-token decoding, and a prompt split in two;
//  - the HF directory and the GGUF file of one seed give the same logits (the converter's
//    transforms: the fused res_norm * res_proj scores, the g_proj split by layer type, the
//    latent projections, ssm_a = -exp(A_log) [H]).
// Parity with llama.cpp and PyTorch: tests/parity/run_kimi_k3_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "models/arch.h"
#include "models/attn_residual.h"
#include "models/blocks.h"
#include "models/forward_checks.h"
#include "models/tiny_model_suite.h"
#include "runtime/model.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

SynthOptions tiny_options(const std::string& format, const fs::path& out) {
  SynthOptions o;
  o.preset = "kimi-k3";
  o.format = format;
  o.layers = 4;
  o.seed = 11;
  for (const char* s : {"hidden_size=32", "num_attention_heads=2", "num_key_value_heads=2", "intermediate_size=64",
                        "q_lora_rank=24", "kv_lora_rank=16", "qk_nope_head_dim=8", "qk_rope_head_dim=8",
                        "v_head_dim=8", "linear_attn_config.num_heads=2", "linear_attn_config.head_dim=8",
                        "num_experts=4", "num_experts_per_token=2", "moe_intermediate_size=16",
                        "routed_expert_hidden_size=16", "attn_res_block_size=2"})
    o.sets.push_back(std::string("text_config.") + s);
  o.out = out.string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  return o;
}

class KimiK3ForwardTest : public TinyModelSuite<tiny_options> {};

std::vector<int32_t> prompt_of(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 7919 + 101) % 128000);
  return t;
}

TEST_F(KimiK3ForwardTest, ConfigFromHfAndGgufAgree) {
  for (const char* name : {"tiny.gguf", "tiny-hf"}) {
    auto model = load(name);
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.arch, "kimi-k3") << name;
    std::vector<bool> recurrent;
    for (int64_t il = 0; il < c.n_layers; ++il) recurrent.push_back(c.layer_is_recurrent(il));
    EXPECT_EQ(recurrent, (std::vector<bool>{true, true, true, false})) << name;
    EXPECT_TRUE(c.linear_kda && c.mla_nope && c.kda_full_rank_gate && c.mla_output_gate) << name;
    EXPECT_EQ(c.kda_gate_lower_bound, -5.0) << name;
    EXPECT_EQ(c.q_lora_rank, 24) << name;
    EXPECT_EQ(c.expert_latent_size, 16) << name;
    EXPECT_EQ(c.attn_res_block_size, 2) << name;
    EXPECT_EQ(c.situ_beta, 4.0) << name;
    EXPECT_EQ(c.situ_linear_beta, 25.0) << name;
    EXPECT_EQ(c.n_shared_experts, 2) << name;
    EXPECT_TRUE(c.norm_topk_prob) << name;
  }
}

TEST(KimiK3Pieces, SituFollowsItsFormula) {
  const blocks::GluActivation situ{4.0f, 25.0f}, swiglu{};
  const std::vector<float> g0 = {-30.0f, -2.0f, 0.0f, 0.5f, 3.0f, 40.0f}, u = {1.0f, -3.0f, 2.0f, 60.0f, -0.5f, 100.0f};
  std::vector<float> g = g0, s = g0;
  situ.apply(g.data(), u.data(), g.size());
  swiglu.apply(s.data(), u.data(), s.size());
  for (size_t i = 0; i < g0.size(); ++i) {
    const double x = g0[i], sig = 1.0 / (1.0 + std::exp(-x));
    const double want = 4.0 * std::tanh(x / 4.0) * sig * 25.0 * std::tanh(u[i] / 25.0);
    std::printf("  situ(%g, %g) = %.6g (formula %.6g); silu * up = %.6g\n", g0[i], u[i], g[i], want, s[i]);
    EXPECT_NEAR(g[i], want, 1e-5 * (1 + std::fabs(want)));
    EXPECT_NEAR(s[i], x * sig * u[i], 1e-5 * (1 + std::fabs(x * u[i])));
  }
  // Bounded: the gate side never exceeds beta, the up side never exceeds linear_beta.
  EXPECT_LT(std::fabs(g.back()), 4.0f * 25.0f);
}

TEST(KimiK3Pieces, AttentionResidualMixIsASoftmaxOverDepth) {
  Activations cur(2, 4), b0(2, 4), b1(2, 4);
  const std::vector<float> w = {0.5f, -1.0f, 2.0f, 0.25f};
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 4; ++i) {
      cur.row(t)[i] = 0.3f * (i + 1) - t;
      b0.row(t)[i] = std::sin(1.0f + i + 3 * t) * 2;
      b1.row(t)[i] = std::cos(0.5f * i - t) * 0.1f;
    }
  // No checkpoint yet: the current stream itself.
  const Activations same = blocks::attn_residual_mix(cur, {}, w, 1e-5);
  EXPECT_EQ(same.data, cur.data);
  const Activations mixed = blocks::attn_residual_mix(cur, {b0, b1}, w, 1e-5);
  for (int t = 0; t < 2; ++t) {
    double s[3], sum = 0;
    const Activations* v[3] = {&b0, &b1, &cur};
    for (int j = 0; j < 3; ++j) {
      double ss = 0, dot = 0;
      for (int i = 0; i < 4; ++i) ss += v[j]->row(t)[i] * v[j]->row(t)[i];
      for (int i = 0; i < 4; ++i) dot += v[j]->row(t)[i] / std::sqrt(ss / 4 + 1e-5) * w[i];
      sum += s[j] = std::exp(dot);
    }
    for (int i = 0; i < 4; ++i) {
      double want = 0;
      for (int j = 0; j < 3; ++j) want += s[j] / sum * v[j]->row(t)[i];  // the raw values, not the normed
      std::printf("  token %d dim %d: mix %.6f formula %.6f\n", t, i, mixed.row(t)[i], want);
      EXPECT_NEAR(mixed.row(t)[i], want, 1e-5);
    }
  }
}

// 75 tokens at once vs token by token (the recurrent step), vs 40 + 35; then one decode step.
TEST_F(KimiK3ForwardTest, ChunkedPrefillMatchesTokenByToken) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = prompt_of(75);
  KVCache whole(model->config(), 128, 1, CacheType::F32);
  const Activations all = feed(*model, whole, pool, prompt, 0);
  KVCache step_cache(model->config(), 128, 1, CacheType::F32);
  const Activations steps = feed_token_by_token(*model, step_cache, pool, prompt);
  KVCache split_cache(model->config(), 128, 1, CacheType::F32);
  Activations split = feed(*model, split_cache, pool, {prompt.begin(), prompt.begin() + 40}, 0);
  const Activations rest = feed(*model, split_cache, pool, {prompt.begin() + 40, prompt.end()}, 40);
  split.data.insert(split.data.end(), rest.data.begin(), rest.data.end());
  split.rows += rest.rows;
  const Activations next_a = feed(*model, whole, pool, {77}, 75), next_b = feed(*model, step_cache, pool, {77}, 75);
  const double e_steps = rel_rmse(all, steps), e_split = rel_rmse(split, steps), e_next = rel_rmse(next_a, next_b);
  std::printf("  75 tokens chunked vs token by token: rel RMSE %.3e; 40 + 35: %.3e; next decode step: %.3e\n",
              e_steps, e_split, e_next);
  EXPECT_LT(e_steps, 1e-5);
  EXPECT_LT(e_split, 1e-5);
  EXPECT_LT(e_next, 1e-5);
}

TEST_F(KimiK3ForwardTest, HfDirectoryAndGgufGiveTheSameLogits) {
  auto gguf = load("tiny.gguf");
  auto hf = load("tiny-hf");
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = prompt_of(20);
  KVCache a(gguf->config(), 64, 1, CacheType::F32), b(hf->config(), 64, 1, CacheType::F32);
  const double err = rel_rmse(feed(*hf, b, pool, prompt, 0), feed(*gguf, a, pool, prompt, 0));
  std::printf("  HF directory vs GGUF: rel RMSE %.3e\n", err);
  EXPECT_LT(err, 1e-6);
}

}  // namespace
}  // namespace dragon
