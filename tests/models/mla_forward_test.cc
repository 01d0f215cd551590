// Multi-head latent attention (DeepSeek-V2/V3) on a tiny random deepseek2 GGUF written here
// (vocabulary 64, kv_lora_rank 16, qk_nope 8, qk_rope 4, v 8, YaRN): the cache holds only the
// latent + rope row per token, decoding one token at a time through it (the absorbed path)
// reproduces the one-batch logits, and sequences in one batch stay apart. The layers are dense
// (first_k_dense_replace = all) so this tests MLA alone; parity with llama.cpp and PyTorch,
// MoE layers included, is tests/parity/run_mla_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/mla.h"
#include "models/mla_decompressed.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "synth/preset.h"
#include "util/error.h"
#include "models/forward_checks.h"
#include "models/random_gguf.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny_config() {
  nlohmann::json hf = nlohmann::json::parse(find_preset("deepseek-v2-lite")->config_json);
  hf["vocab_size"] = 64;
  hf["hidden_size"] = 48;
  hf["intermediate_size"] = 48;
  hf["num_hidden_layers"] = 2;
  hf["first_k_dense_replace"] = 2;
  hf["num_attention_heads"] = 3;
  hf["num_key_value_heads"] = 3;
  hf["kv_lora_rank"] = 16;
  hf["qk_nope_head_dim"] = 8;
  hf["qk_rope_head_dim"] = 4;
  hf["v_head_dim"] = 8;
  hf["n_routed_experts"] = 4;
  hf["num_experts_per_tok"] = 2;
  hf["moe_intermediate_size"] = 16;
  hf["bos_token_id"] = 1;
  hf["eos_token_id"] = 2;
  return config_from_hf(hf);
}

std::string write_tiny_deepseek2(const fs::path& dir) {
  const ModelConfig c = tiny_config();
  return write_random_gguf(c, "deepseek2", (dir / "tiny-deepseek2.gguf").string());
}

class MlaForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_mla_forward_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    path_ = write_tiny_deepseek2(dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<Model> load() { return build_model(open_model(path_)); }

  static inline fs::path dir_;
  static inline std::string path_;
};

const std::vector<int32_t> kPrompt = {3, 17, 42, 5, 63, 0, 9, 9, 28, 51, 11, 7};

TEST(MlaKVCache, HoldsOnlyTheLatentAndTheRopeKey) {
  const ModelConfig c = tiny_config();
  KVCache cache(c, 8, 2, CacheType::F16);
  EXPECT_TRUE(cache.is_latent());
  EXPECT_EQ(cache.latent_width(), 16 + 4);
  EXPECT_EQ(cache.bytes_per_token(), 2 * (16 + 4) * 2);
  EXPECT_EQ(KVCache::bytes_per_token(c, CacheType::F32), 2 * (16 + 4) * 4);
  // The per-head layout MLA avoids: 3 heads x (12 + 8) per layer.
  std::printf("  latent cache: %lld bytes/token (per-head K/V would be %d)\n",
              static_cast<long long>(cache.bytes_per_token()), 2 * 3 * (12 + 8) * 2);

  std::vector<float> row(20);
  for (size_t i = 0; i < row.size(); ++i) row[i] = 0.5f * static_cast<float>(i);
  Batch b;
  b.add(1, 0, 1, true);
  cache.begin_batch(b);
  cache.store_latent(1, 1, 0, row.data());
  const KVSpan s = cache.latent_span(1, 1);
  EXPECT_EQ(s.k, s.v) << "values are the latent part of the key rows";
  EXPECT_EQ(s.k_stride, 20);
  EXPECT_THROW(cache.store(0, 0, 0, row.data(), row.data()), Error);
  EXPECT_THROW(cache.span(0, 0, 0), Error);
}

TEST(MlaKVCache, DenseFamiliesKeepPerHeadRows) {
  ModelConfig c;
  c.n_layers = 2;
  c.n_kv_heads = 2;
  c.head_dim = 8;
  KVCache cache(c, 4, 1, CacheType::F32);
  EXPECT_FALSE(cache.is_latent());
  EXPECT_EQ(cache.bytes_per_token(), 2 * (16 + 16) * 4);
  EXPECT_THROW(cache.latent_span(0, 0), Error);
}

TEST(MlaSoftmaxScale, YarnMscaleSquared) {
  const ModelConfig c = tiny_config();  // V2-Lite's YaRN: factor 40, mscale_all_dim 0.707
  const double m = 0.1 * 0.707 * std::log(40.0) + 1.0;
  EXPECT_NEAR(blocks::mla_softmax_scale(c), m * m / std::sqrt(12.0), 1e-6);
  ModelConfig plain = c;
  plain.rope_scaling = RopeScaling{};
  EXPECT_NEAR(blocks::mla_softmax_scale(plain), 1.0 / std::sqrt(12.0), 1e-7);
}

TEST_F(MlaForwardTest, DecodeThroughTheLatentCacheReproducesOneBatchLogits) {
  auto model = load();
  ThreadPool pool(2);
  KVCache batch_cache(model->config(), 32, 1, CacheType::F32);
  const Activations all = prompt_logits(*model, kPrompt, batch_cache, pool);
  ASSERT_EQ(all.rows, static_cast<int64_t>(kPrompt.size()));

  KVCache step_cache(model->config(), 32, 1, CacheType::F32);
  Activations steps(all.rows, all.cols);
  for (size_t i = 0; i < kPrompt.size(); ++i) {
    Batch one;
    one.add(kPrompt[i], static_cast<int64_t>(i), 0, true);
    const Activations row = model->forward(one, step_cache, pool);
    std::copy(row.data.begin(), row.data.end(), steps.row(static_cast<int64_t>(i)));
  }
  const double err = rel_rmse(steps, all);
  std::printf("  token-by-token vs one batch: rel RMSE %.3e\n", err);
  EXPECT_LT(err, 1e-6);

  KVCache f16_cache(model->config(), 32, 1, CacheType::F16);
  const double err16 = rel_rmse(prompt_logits(*model, kPrompt, f16_cache, pool), all);
  std::printf("  f16 latent cache vs f32: rel RMSE %.3e\n", err16);
  EXPECT_LT(err16, 5e-3);
  EXPECT_GT(err16, 0.0);
}

TEST_F(MlaForwardTest, SequencesInOneBatchDoNotSeeEachOther) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> other = {60, 1, 2, 33, 34};
  KVCache a(model->config(), 32, 1, CacheType::F32), b(model->config(), 32, 1, CacheType::F32);
  const Activations alone_a = prompt_logits(*model, kPrompt, a, pool);
  const Activations alone_b = prompt_logits(*model, other, b, pool);
  KVCache shared(model->config(), 32, 2, CacheType::F32);
  const double err = interleaved_vs_alone(*model, kPrompt, other, alone_a, alone_b, shared, pool);
  std::printf("  two sequences in one batch vs alone: max abs diff %.3e\n", err);
  EXPECT_LT(err, 1e-5);
}

TEST_F(MlaForwardTest, ThreadsDoNotChangeResults) {
  auto model = load();
  ThreadPool one(1), three(3);
  KVCache c1(model->config(), 32, 1, CacheType::F16), c3(model->config(), 32, 1, CacheType::F16);
  EXPECT_EQ(prompt_logits(*model, kPrompt, c1, one).data, prompt_logits(*model, kPrompt, c3, three).data);
}

// DRAGON_MLA_PREFILL set for one scope (unset again after).
struct ForcedMlaForm {
  explicit ForcedMlaForm(const char* form) { setenv("DRAGON_MLA_PREFILL", form, 1); }
  ~ForcedMlaForm() { unsetenv("DRAGON_MLA_PREFILL"); }
};

// A prompt long enough to span several cache blocks (16 positions each).
std::vector<int32_t> long_prompt() {
  std::vector<int32_t> p;
  for (int i = 0; i < 40; ++i) p.push_back((i * 37 + 11) % 64);
  return p;
}

Activations prompt_logits_as(Model& model, const std::vector<int32_t>& prompt, CacheType type, const char* form,
                             ThreadPool& pool) {
  const ForcedMlaForm forced(form);
  KVCache cache(model.config(), 64, 1, type);
  return prompt_logits(model, prompt, cache, pool);
}

TEST_F(MlaForwardTest, DecompressedPrefillMatchesAbsorbed) {
  auto model = load();
  ThreadPool pool(2);
  for (CacheType type : {CacheType::F32, CacheType::F16}) {
    const Activations absorbed = prompt_logits_as(*model, long_prompt(), type, "absorbed", pool);
    const Activations decompressed = prompt_logits_as(*model, long_prompt(), type, "decompressed", pool);
    ASSERT_EQ(absorbed.rows, decompressed.rows);
    const double err = rel_rmse(decompressed, absorbed);
    std::printf("  %s cache, 40-token prompt logits, decompressed vs absorbed: rel RMSE %.3e\n",
                type == CacheType::F32 ? "f32" : "f16", err);
    EXPECT_LT(err, 1e-5);
  }
}

// A later chunk of a prompt decompresses the rows the cache already holds: prefill 13 tokens
// absorbed, then the other 27 decompressed, against the whole prompt absorbed.
TEST_F(MlaForwardTest, DecompressedChunkReadsTheCachedPrefix) {
  auto model = load();
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = long_prompt();
  const Activations whole = prompt_logits_as(*model, prompt, CacheType::F32, "absorbed", pool);
  KVCache cache(model->config(), 64, 1, CacheType::F32);
  const int64_t split = 13;
  Batch first, second;
  for (int64_t i = 0; i < static_cast<int64_t>(prompt.size()); ++i) (i < split ? first : second).add(prompt[i], i, 0, true);
  {
    const ForcedMlaForm forced("absorbed");
    model->forward(first, cache, pool);
  }
  Activations rest;
  {
    const ForcedMlaForm forced("decompressed");
    rest = model->forward(second, cache, pool);
  }
  Activations ref(rest.rows, rest.cols);
  for (int64_t r = 0; r < rest.rows; ++r) std::copy_n(whole.row(split + r), rest.cols, ref.row(r));
  const double err = rel_rmse(rest, ref);
  std::printf("  second chunk decompressed over a cached prefix vs whole prompt absorbed: rel RMSE %.3e\n", err);
  EXPECT_LT(err, 1e-5);
}

TEST(MlaForm, AutoDecompressesLongPromptsOnly) {
  unsetenv("DRAGON_MLA_PREFILL");
  const ModelConfig c = config_from_hf(nlohmann::json::parse(find_preset("deepseek-v2-lite")->config_json));
  using blocks::MlaForm;
  EXPECT_EQ(blocks::mla_form_for(c, 1, 0), MlaForm::Absorbed);     // decode
  EXPECT_EQ(blocks::mla_form_for(c, 1, 5000), MlaForm::Absorbed);  // decode deep in a chat
  EXPECT_EQ(blocks::mla_form_for(c, blocks::kMlaDecompressMinTokens - 1, 0), MlaForm::Absorbed);
  EXPECT_EQ(blocks::mla_form_for(c, blocks::kMlaDecompressMinTokens, 0), MlaForm::Decompressed);
  EXPECT_EQ(blocks::mla_form_for(c, 2048, 0), MlaForm::Decompressed);
  // A short follow-up turn after a long cached prefix: expanding 4000 old rows costs more.
  EXPECT_EQ(blocks::mla_form_for(c, 64, 4000), MlaForm::Absorbed);
  EXPECT_EQ(blocks::mla_form_for(c, 512, 4000), MlaForm::Decompressed);
  const ForcedMlaForm forced("decompressed");
  EXPECT_EQ(blocks::mla_form_for(c, 1, 0), MlaForm::Decompressed);
}

TEST_F(MlaForwardTest, UnknownMlaFormIsAnError) {
  auto model = load();
  ThreadPool pool(1);
  const ForcedMlaForm forced("fastest");
  KVCache cache(model->config(), 32, 1, CacheType::F32);
  EXPECT_THROW(prompt_logits(*model, kPrompt, cache, pool), Error);
}

}  // namespace
}  // namespace dragon
