// Kimi Linear (Kimi Delta Attention + MLA without rope, MoE) on a small synthetic model of the
// kimi-linear-48b-a3b preset (4 layers: KDA, KDA, KDA, MLA; a dense first layer):
//  - the layer pattern from linear_attn_config.full_attn_layers, and its round trip through the
//    GGUF's per-layer head_count_kv;
//  - the chunked prefill (75 tokens: three chunks of the delta rule) against token-by-token
//    decoding through the recurrent state, and a prompt split in two;
//  - the HF directory and the GGUF file of one seed give the same logits (the converter's
//    transforms: ssm_a = -exp(A_log), the kv_b_proj split, the stacked w1/w2/w3 experts);
// Parity with llama.cpp and PyTorch: tests/parity/run_kimi_linear_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "models/arch.h"
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
  o.preset = "kimi-linear-48b-a3b";
  o.format = format;
  o.layers = 4;
  o.seed = 9;
  o.sets = {"hidden_size=32",
            "num_attention_heads=2",
            "num_key_value_heads=2",
            "head_dim=16",
            "intermediate_size=64",
            "kv_lora_rank=16",
            "qk_nope_head_dim=8",
            "qk_rope_head_dim=8",
            "v_head_dim=8",
            "linear_attn_config.num_heads=2",
            "linear_attn_config.head_dim=8",
            "num_experts=4",
            "num_experts_per_token=2",
            "moe_intermediate_size=16"};
  o.out = out.string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  return o;
}

class KimiLinearForwardTest : public TinyModelSuite<tiny_options> {};

std::vector<int32_t> prompt_of(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 7919 + 101) % 128000);
  return t;
}

TEST_F(KimiLinearForwardTest, FullAttentionLayersComeFromTheConfigList) {
  for (const char* name : {"tiny.gguf", "tiny-hf"}) {
    auto model = load(name);
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.arch, "kimi-linear");
    std::vector<bool> recurrent;
    for (int64_t il = 0; il < c.n_layers; ++il) recurrent.push_back(c.layer_is_recurrent(il));
    EXPECT_EQ(recurrent, (std::vector<bool>{true, true, true, false})) << name;  // full_attn_layers [4, 8, ...]
    EXPECT_TRUE(c.linear_kda);
    EXPECT_TRUE(c.mla_nope);
    EXPECT_EQ(c.linear_n_v_heads, 2);
    // (K - 1) x 3 convs x 2 heads x 8 + 2 heads x 8 x 8
    EXPECT_EQ(c.recurrent_state_floats(), 3 * 3 * 16 + 2 * 64);
    // Only the MLA layer keeps rows: [latent 16 | k_pe 8].
    EXPECT_EQ(KVCache::bytes_per_token(c, CacheType::F32), (16 + 8) * 4);
  }
}

// 75 tokens at once (three chunks of the per-channel delta rule) vs token by token (the recurrent
// step), vs 40 + 35; then one decode step after each.
TEST_F(KimiLinearForwardTest, ChunkedPrefillMatchesTokenByToken) {
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
  // Without the carried state the second part would be a fresh prompt: far from the batch.
  KVCache fresh(model->config(), 128, 1, CacheType::F32);
  const Activations no_state = feed(*model, fresh, pool, {prompt.begin() + 40, prompt.end()}, 0);
  Activations all_tail(rest.rows, rest.cols);
  std::copy(all.row(40), all.row(40) + rest.rows * rest.cols, all_tail.data.begin());
  const double e_steps = rel_rmse(all, steps), e_split = rel_rmse(split, steps), e_next = rel_rmse(next_a, next_b);
  const double e_fresh = rel_rmse(no_state, all_tail);
  std::printf("  75 tokens chunked vs token by token: rel RMSE %.3e; 40 + 35: %.3e; next decode step: %.3e; "
              "the 35 without state: %.3e\n", e_steps, e_split, e_next, e_fresh);
  EXPECT_LT(e_steps, 1e-5);
  EXPECT_LT(e_split, 1e-5);
  EXPECT_LT(e_next, 1e-5);
  EXPECT_GT(e_fresh, 1e-2);
}

TEST_F(KimiLinearForwardTest, HfDirectoryAndGgufGiveTheSameLogits) {
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
