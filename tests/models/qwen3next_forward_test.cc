// Qwen3-Next (hybrid Gated DeltaNet + gated attention, MoE) on a small synthetic model of the
// qwen3-next-80b-a3b preset (4 layers: three linear-attention layers and one full-attention one):
//  - the recurrent state carried in the KV cache between forward passes: the prompt fed token by
//    token, or in two pieces, reproduces the one-batch logits (conv inputs and delta-rule
//    matrices carried over; a state that were dropped or applied twice would differ);
//  - sequences in one batch keep their own states; restarting a sequence at position 0 zeroes it;
//  - the cache refuses what a recurrent state cannot do (rolling back, attaching shared prefixes);
//  - the HF directory and the GGUF file of one seed give the same logits (the converter's
//    transforms: 1 + w norms, the in_proj_qkvz regrouping, ssm_a = -exp(A_log)).
// Parity with llama.cpp and PyTorch: tests/parity/run_next_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "models/arch.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "runtime/scheduler.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "util/error.h"
#include "models/forward_checks.h"
#include "models/tiny_model_suite.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

SynthOptions tiny_options(const std::string& format, const fs::path& out) {
  SynthOptions o;
  o.preset = "qwen3-next-80b-a3b";
  o.format = format;
  o.layers = 4;
  o.seed = 7;
  o.sets = {"hidden_size=32",          "num_attention_heads=2",       "num_key_value_heads=1",
            "head_dim=16",             "linear_num_key_heads=2",      "linear_num_value_heads=4",
            "linear_key_head_dim=8",   "linear_value_head_dim=8",     "num_experts=4",
            "num_experts_per_tok=2",   "moe_intermediate_size=16",    "shared_expert_intermediate_size=16"};
  o.out = out.string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  return o;
}

class Qwen3NextForwardTest : public TinyModelSuite<tiny_options> {};

const std::vector<int32_t> kPrompt = {9707, 11, 1879, 0, 151643, 42, 42, 7, 100, 2000, 3, 88, 5, 6};
// 75 tokens: three chunks of the chunked delta rule (32 + 32 + 11).
std::vector<int32_t> long_prompt() {
  std::vector<int32_t> t;
  for (int i = 0; i < 75; ++i) t.push_back((i * 7919 + 101) % 151643);
  return t;
}

TEST_F(Qwen3NextForwardTest, LayersAlternateThreeLinearToOneFull) {
  auto model = load();
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.arch, "qwen3next");
  EXPECT_EQ(c.rotary_dim, 4);  // partial_rotary_factor 0.25 of head_dim 16
  std::vector<bool> recurrent;
  for (int64_t il = 0; il < c.n_layers; ++il) recurrent.push_back(c.layer_is_recurrent(il));
  EXPECT_EQ(recurrent, (std::vector<bool>{true, true, true, false}));
  // 3 x 8 conv channels per k head pair ... : (K - 1) * (2*2*8 + 4*8) + 4 * 8 * 8
  EXPECT_EQ(c.recurrent_state_floats(), 3 * 64 + 256);
  // Only the full-attention layer keeps K/V rows: 1 kv head x 16 (K) + 16 (V) floats per token.
  EXPECT_EQ(KVCache::bytes_per_token(c, CacheType::F32), 1 * (16 + 16) * 4);
  KVCache cache(c, 8, 1, CacheType::F32);
  EXPECT_THROW(cache.span(0, 0, 0), Error);  // layer 0 is a linear-attention layer
  EXPECT_NO_THROW(cache.span(3, 0, 0));
}

TEST_F(Qwen3NextForwardTest, TokenByTokenAndSplitPromptReproduceOneBatch) {
  auto model = load();
  ThreadPool pool(2);
  KVCache whole(model->config(), 64, 1, CacheType::F32);
  const Activations all = feed(*model, whole, pool, kPrompt, 0);

  KVCache step_cache(model->config(), 64, 1, CacheType::F32);
  const Activations steps = feed_token_by_token(*model, step_cache, pool, kPrompt);
  const double err_steps = rel_rmse(steps, all);

  KVCache split_cache(model->config(), 64, 1, CacheType::F32);
  const std::vector<int32_t> head(kPrompt.begin(), kPrompt.begin() + 5), tail(kPrompt.begin() + 5, kPrompt.end());
  Activations split = feed(*model, split_cache, pool, head, 0);
  const Activations rest = feed(*model, split_cache, pool, tail, 5);
  split.data.insert(split.data.end(), rest.data.begin(), rest.data.end());
  split.rows += rest.rows;
  const double err_split = rel_rmse(split, all);

  // Without the carried state the second piece would be a fresh prompt: far from the batch.
  KVCache fresh(model->config(), 64, 1, CacheType::F32);
  const Activations no_state = feed(*model, fresh, pool, tail, 0);
  Activations all_tail(rest.rows, rest.cols);
  std::copy(all.row(5), all.row(5) + rest.rows * rest.cols, all_tail.data.begin());
  const double err_no_state = rel_rmse(no_state, all_tail);

  std::printf("  token by token vs one batch: rel RMSE %.3e; 5 + 9 tokens: %.3e; the 9 without state: %.3e\n",
              err_steps, err_split, err_no_state);
  EXPECT_LT(err_steps, 1e-5);
  EXPECT_LT(err_split, 1e-5);
  EXPECT_GT(err_no_state, 1e-2);
}

// The chunked form (a prompt at once: 3 chunks; or 40 + 35 tokens, the second part starting from
// a carried state mid-chunk) against the recurrent form (token by token).
TEST_F(Qwen3NextForwardTest, ChunkedPrefillMatchesTokenByTokenOverSeveralChunks) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = long_prompt();
  KVCache whole(model->config(), 128, 1, CacheType::F32);
  const Activations all = feed(*model, whole, pool, prompt, 0);
  KVCache step_cache(model->config(), 128, 1, CacheType::F32);
  const Activations steps = feed_token_by_token(*model, step_cache, pool, prompt);
  KVCache split_cache(model->config(), 128, 1, CacheType::F32);
  Activations split = feed(*model, split_cache, pool, {prompt.begin(), prompt.begin() + 40}, 0);
  const Activations rest = feed(*model, split_cache, pool, {prompt.begin() + 40, prompt.end()}, 40);
  split.data.insert(split.data.end(), rest.data.begin(), rest.data.end());
  split.rows += rest.rows;
  // Then one decode step after each: the states left by the two forms must agree too.
  const Activations next_a = feed(*model, whole, pool, {77}, 75), next_b = feed(*model, step_cache, pool, {77}, 75);
  const double e_steps = rel_rmse(all, steps), e_split = rel_rmse(split, steps), e_next = rel_rmse(next_a, next_b);
  std::printf("  75 tokens chunked vs token by token: rel RMSE %.3e; 40 + 35: %.3e; next decode step: %.3e\n",
              e_steps, e_split, e_next);
  EXPECT_LT(e_steps, 1e-5);
  EXPECT_LT(e_split, 1e-5);
  EXPECT_LT(e_next, 1e-5);
}

TEST_F(Qwen3NextForwardTest, SequencesKeepTheirOwnStateAndRestartAtZero) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> other = {60, 1, 2, 33, 34};
  KVCache a(model->config(), 64, 1, CacheType::F32), b(model->config(), 64, 1, CacheType::F32);
  const Activations alone_a = feed(*model, a, pool, kPrompt, 0);
  const Activations alone_b = feed(*model, b, pool, other, 0);

  KVCache shared(model->config(), 64, 2, CacheType::F32);
  const double err = interleaved_vs_alone(*model, kPrompt, other, alone_a, alone_b, shared, pool);
  // Sequence 0 restarts at position 0 with sequence 1's prompt: the old state must be gone.
  const Activations again = feed(*model, shared, pool, kPrompt, 0, 0);
  const double err_restart = rel_rmse(again, alone_a);
  std::printf("  two sequences in one batch vs alone: max abs diff %.3e; restart at 0: rel RMSE %.3e\n", err,
              err_restart);
  EXPECT_LT(err, 1e-4);
  EXPECT_LT(err_restart, 1e-6);
}

TEST_F(Qwen3NextForwardTest, CacheRefusesWhatARecurrentStateCannotDo) {
  auto model = load();
  ThreadPool pool(2);
  KVCache cache(model->config(), 64, 2, CacheType::F32);
  EXPECT_TRUE(cache.is_recurrent());
  feed(*model, cache, pool, kPrompt, 0);
  EXPECT_THROW(cache.truncate(0, 3), Error);                       // roll back
  EXPECT_THROW(feed(*model, cache, pool, {5}, 4), Error);          // rewrite position 4
  EXPECT_THROW(cache.attach(1, cache.block_table(0), 8), Error);  // share a prefix
  EXPECT_EQ(cache.length(0), static_cast<int64_t>(kPrompt.size()));
  cache.truncate(0, 0);                                            // clearing is fine
  EXPECT_EQ(cache.length(0), 0);
  EXPECT_THROW(cache.recurrent_state(3, 0), Error);                // layer 3 is full attention
}

// The server's prefix cache: a finished request's blocks are not offered to the next request with
// the same prompt (its recurrent state is not in them), so the prompt is computed again.
TEST_F(Qwen3NextForwardTest, PrefixCacheIsOffForRecurrentModels) {
  auto model = load();
  ThreadPool pool(2);
  KVCache cache(model->config(), 64, 2, CacheType::F32, 0, 4);
  SequenceTable table(cache);
  auto first = table.acquire(kPrompt, true, false);
  ASSERT_TRUE(first.has_value());
  feed(*model, cache, pool, kPrompt, 0, first->slot);
  for (size_t i = 0; i < kPrompt.size(); ++i) table.record(first->slot, static_cast<int64_t>(i), kPrompt[i]);
  table.share_full_blocks(first->slot);
  table.release(first->slot);
  auto second = table.acquire(kPrompt, true, false);
  ASSERT_TRUE(second.has_value());
  std::printf("  same prompt again: %lld tokens reused from the prefix cache\n",
              static_cast<long long>(second->reused));
  EXPECT_EQ(second->reused, 0);
  EXPECT_EQ(cache.length(second->slot), 0);
}

TEST_F(Qwen3NextForwardTest, HFDirectoryAndGGUFAreTheSameModel) {
  auto gguf = load();
  auto hf = load("tiny-hf");
  ThreadPool pool(2);
  KVCache c1(gguf->config(), 64, 1, CacheType::F32), c2(hf->config(), 64, 1, CacheType::F32);
  const double err = rel_rmse(feed(*hf, c2, pool, kPrompt, 0), feed(*gguf, c1, pool, kPrompt, 0));
  std::printf("  HF directory vs GGUF: rel RMSE %.3e\n", err);
  EXPECT_LT(err, 1e-6);
}

}  // namespace
}  // namespace dragon
