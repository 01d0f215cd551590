// MiniMax-M1 / Text-01 (lightning attention + softmax attention, MoE, DeepNorm residuals):
//  - the lightning kernel's two forms: the block-wise prefill (intra-block with the decay mask,
//    inter-block through the carried state) against the token-by-token recurrence, and that
//    dropping the carried state between blocks breaks it;
//  - on a small synthetic minimax-m1 (8 layers: 7 lightning + 1 softmax attention): the prompt at
//    once (two blocks of the prompt form) vs token by token vs split in two; sequences in one batch
//    keep their own states; the HF directory and the GGUF file of one seed give the same logits.
// Parity with llama.cpp and PyTorch: tests/parity/run_minimax01_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "models/arch.h"
#include "models/forward_checks.h"
#include "models/tiny_model_suite.h"
#include "models/lightning_attention.h"
#include "runtime/model.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += std::pow(double(a[i]) - b[i], 2), den += std::pow(double(b[i]), 2);
  return std::sqrt(num / den);
}

// One head, d = 16, 150 tokens: blocks of 64 + 64 + 22 against the recurrence.
TEST(LightningKernel, BlockFormMatchesRecurrenceAndNeedsTheCarriedState) {
  const int64_t d = 16, n = 150;
  const float slope = 0.03f;  // slow decay: a token still weighs exp(-0.03 * 64) = 0.15 a block later
  std::mt19937 rng(5);
  std::normal_distribution<float> N(0.0f, 0.5f);
  std::vector<float> q(n * d), k(n * d), v(n * d);
  for (auto* x : {&q, &k, &v})
    for (float& e : *x) e = N(rng);

  std::vector<float> kv_step(d * d, 0.0f), out_step(n * d);
  for (int64_t t = 0; t < n; ++t)
    blocks::lightning_step(kv_step.data(), &q[t * d], &k[t * d], &v[t * d], slope, d, &out_step[t * d]);

  auto run_blocks = [&](bool carry, std::vector<float>& kv) {
    std::vector<float> out(n * d);
    for (int64_t b0 = 0; b0 < n; b0 += 64) {
      if (!carry) std::fill(kv.begin(), kv.end(), 0.0f);
      std::vector<const float*> qs, ks, vs;
      std::vector<float*> os;
      for (int64_t t = b0; t < std::min(n, b0 + 64); ++t)
        qs.push_back(&q[t * d]), ks.push_back(&k[t * d]), vs.push_back(&v[t * d]), os.push_back(&out[t * d]);
      blocks::lightning_block(kv.data(), qs, ks, vs, slope, d, os);
    }
    return out;
  };
  std::vector<float> kv_block(d * d, 0.0f), kv_lost(d * d, 0.0f);
  const std::vector<float> out_block = run_blocks(true, kv_block);
  const std::vector<float> out_lost = run_blocks(false, kv_lost);
  const double e_out = rel_diff(out_block, out_step), e_state = rel_diff(kv_block, kv_step);
  const double e_lost = rel_diff(out_lost, out_step);
  std::printf("  150 tokens, blocks 64+64+22 vs recurrence: outputs rel %.3e, final state rel %.3e; "
              "without the carried state: %.3e\n", e_out, e_state, e_lost);
  EXPECT_LT(e_out, 1e-5);
  EXPECT_LT(e_state, 1e-5);
  EXPECT_GT(e_lost, 1e-2);
}

TEST(LightningKernel, SlopesFollowTheRelease) {
  ModelConfig c;
  c.n_heads = 8;
  c.n_layers = 5;
  const std::vector<float> s0 = blocks::lightning_slopes(c, 0), s4 = blocks::lightning_slopes(c, 4);
  // 2^(-8/8 * (h+1)) = 1/2, 1/4, ...; the last layer keeps 1e-5 of it.
  EXPECT_NEAR(s0[0], 0.5 * (1 + 1e-5), 1e-7);
  EXPECT_NEAR(s0[7], std::pow(0.5, 8) * (1 + 1e-5), 1e-9);
  EXPECT_NEAR(s4[0], 0.5 * 1e-5, 1e-9);
  c.n_heads = 6;  // 4 power-of-two slopes (2^-2 ...), then every other one of 8 (2^-1, 2^-3)
  const std::vector<float> s6 = blocks::lightning_slopes(c, 0);
  EXPECT_NEAR(s6[3], std::pow(2.0, -8) * (1 + 1e-5), 1e-9);
  EXPECT_NEAR(s6[4], 0.5 * (1 + 1e-5), 1e-7);
  EXPECT_NEAR(s6[5], 0.125 * (1 + 1e-5), 1e-7);
}

SynthOptions tiny_options(const std::string& format, const fs::path& out) {
  SynthOptions o;
  o.preset = "minimax-m1";
  o.format = format;
  o.layers = 8;
  o.seed = 11;
  o.sets = {"hidden_size=32",       "num_attention_heads=4", "num_key_value_heads=1", "head_dim=16",
            "rotary_dim=8",         "intermediate_size=16",  "num_local_experts=4",   "num_experts_per_tok=2"};
  o.out = out.string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  return o;
}

class MiniMax01ForwardTest : public TinyModelSuite<tiny_options> {};

// 150 tokens: blocks of 64 + 64 + 22 in the prompt form.
std::vector<int32_t> long_prompt() {
  std::vector<int32_t> t;
  for (int i = 0; i < 150; ++i) t.push_back((i * 7919 + 101) % 151643);
  return t;
}

TEST_F(MiniMax01ForwardTest, SevenLightningLayersThenSoftmax) {
  auto model = load();
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.arch, "minimax-01");
  EXPECT_EQ(c.full_attention_interval, 8);
  std::vector<bool> recurrent;
  for (int64_t il = 0; il < c.n_layers; ++il) recurrent.push_back(c.layer_is_recurrent(il));
  EXPECT_EQ(recurrent, (std::vector<bool>{true, true, true, true, true, true, true, false}));
  EXPECT_EQ(c.recurrent_state_floats(), 4 * 16 * 16);  // one 16 x 16 state per head, no conv
  EXPECT_TRUE(c.residual_from_norm);
  EXPECT_NEAR(c.residual_alpha_mlp, 3.5565588200778455, 1e-6);
  EXPECT_EQ(KVCache::bytes_per_token(c, CacheType::F32), 1 * (16 + 16) * 4);  // the softmax layer only
}

TEST_F(MiniMax01ForwardTest, BlockPrefillMatchesTokenByTokenAndSplitPrompt) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = long_prompt();
  const int64_t n = static_cast<int64_t>(prompt.size());
  KVCache whole(model->config(), 256, 1, CacheType::F32);
  const Activations all = feed(*model, whole, pool, prompt, 0);
  KVCache step_cache(model->config(), 256, 1, CacheType::F32);
  const Activations steps = feed_token_by_token(*model, step_cache, pool, prompt);
  KVCache split_cache(model->config(), 256, 1, CacheType::F32);
  Activations split = feed(*model, split_cache, pool, {prompt.begin(), prompt.begin() + 40}, 0);
  const Activations rest = feed(*model, split_cache, pool, {prompt.begin() + 40, prompt.end()}, 40);
  split.data.insert(split.data.end(), rest.data.begin(), rest.data.end());
  split.rows += rest.rows;
  // The second piece without the first piece's state (a fresh sequence at position 0).
  KVCache fresh(model->config(), 256, 1, CacheType::F32);
  const Activations no_state = feed(*model, fresh, pool, {prompt.begin() + 40, prompt.end()}, 0);
  Activations all_tail(rest.rows, rest.cols);
  std::copy(all.row(40), all.row(40) + rest.rows * rest.cols, all_tail.data.begin());
  const Activations next_a = feed(*model, whole, pool, {77}, n), next_b = feed(*model, step_cache, pool, {77}, n);

  const double e_steps = rel_rmse(all, steps), e_split = rel_rmse(split, steps), e_next = rel_rmse(next_a, next_b);
  const double e_lost = rel_rmse(no_state, all_tail);
  std::printf("  150 tokens in blocks vs token by token: rel RMSE %.3e; 40 + 110: %.3e; next decode step: %.3e; "
              "the 110 without state: %.3e\n", e_steps, e_split, e_next, e_lost);
  EXPECT_LT(e_steps, 1e-5);
  EXPECT_LT(e_split, 1e-5);
  EXPECT_LT(e_next, 1e-5);
  EXPECT_GT(e_lost, 1e-2);
}

TEST_F(MiniMax01ForwardTest, SequencesKeepTheirOwnState) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> a_prompt = {9707, 11, 1879, 0, 42, 42, 7, 100, 2000, 3}, b_prompt = {60, 1, 2, 33, 34};
  KVCache a(model->config(), 64, 1, CacheType::F32), b(model->config(), 64, 1, CacheType::F32);
  const Activations alone_a = feed(*model, a, pool, a_prompt, 0);
  const Activations alone_b = feed(*model, b, pool, b_prompt, 0);
  KVCache shared(model->config(), 64, 2, CacheType::F32);
  const double err = interleaved_vs_alone(*model, a_prompt, b_prompt, alone_a, alone_b, shared, pool);
  std::printf("  two sequences in one batch vs alone: max abs diff %.3e\n", err);
  EXPECT_LT(err, 1e-4);
}

TEST_F(MiniMax01ForwardTest, HFDirectoryAndGGUFAreTheSameModel) {
  auto gguf = load();
  auto hf = load("tiny-hf");
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = {9707, 11, 1879, 0, 42, 42, 7, 100};
  KVCache c1(gguf->config(), 64, 1, CacheType::F32), c2(hf->config(), 64, 1, CacheType::F32);
  const double e = rel_rmse(feed(*hf, c2, pool, prompt, 0), feed(*gguf, c1, pool, prompt, 0));
  std::printf("  HF vs GGUF (F32): rel RMSE %.3e\n", e);
  EXPECT_LT(e, 1e-6);
}

}  // namespace
}  // namespace dragon
