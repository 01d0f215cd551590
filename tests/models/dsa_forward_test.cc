// DeepSeek Sparse Attention (DeepSeek-V3.2, models/dsa_indexer.h) on a tiny random deepseek32
// GGUF written here (vocabulary 64, kv_lora_rank 16, qk_rope 4, indexer 4 heads of 8, index_topk
// 3 against a 12-token prompt): the cache rows carry the indexer key beside the latent, decoding
// one token at a time (the sparse selection over the cache) reproduces the one-batch logits,
// sequences in one batch stay apart, and the selection changes the logits exactly from the
// position where a token sees more than index_topk positions. Parity with llama.cpp and PyTorch is
// tests/parity/run_dsa_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/forward_checks.h"
#include "models/random_gguf.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "synth/preset.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kTopK = 3;

ModelConfig tiny_config(int64_t topk) {
  nlohmann::json hf = nlohmann::json::parse(find_preset("deepseek-v3.2")->config_json);
  hf["vocab_size"] = 64;
  hf["hidden_size"] = 48;
  hf["intermediate_size"] = 48;
  hf["num_hidden_layers"] = 2;
  hf["first_k_dense_replace"] = 2;  // dense FFNs: this tests the attention alone
  hf["num_nextn_predict_layers"] = 0;
  hf["num_attention_heads"] = 3;
  hf["num_key_value_heads"] = 3;
  hf["q_lora_rank"] = 24;
  hf["kv_lora_rank"] = 16;
  hf["qk_nope_head_dim"] = 8;
  hf["qk_rope_head_dim"] = 4;
  hf["v_head_dim"] = 8;
  hf["n_routed_experts"] = 4;
  hf["n_group"] = 1;
  hf["topk_group"] = 1;
  hf["num_experts_per_tok"] = 2;
  hf["moe_intermediate_size"] = 16;
  hf["index_n_heads"] = 4;
  hf["index_head_dim"] = 8;
  hf["index_topk"] = topk;
  return config_from_hf(hf);
}

// The same random weights whatever topk (the tensors do not depend on it).
std::string write_tiny_deepseek32(const fs::path& dir, int64_t topk) {
  const ModelConfig c = tiny_config(topk);
  return write_random_gguf(c, "deepseek32", (dir / ("tiny-deepseek32-top" + std::to_string(topk) + ".gguf")).string());
}

class DsaForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_dsa_forward_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    sparse_ = write_tiny_deepseek32(dir_, kTopK);
    dense_ = write_tiny_deepseek32(dir_, 1000);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static inline fs::path dir_;
  static inline std::string sparse_, dense_;
};

const std::vector<int32_t> kPrompt = {3, 17, 42, 5, 63, 0, 9, 9, 28, 51, 11, 7};

TEST(DsaKVCache, RowsCarryTheIndexerKeyAfterTheLatent) {
  const ModelConfig c = tiny_config(kTopK);
  KVCache cache(c, 8, 1, CacheType::F32);
  EXPECT_TRUE(cache.has_indexer_keys());
  EXPECT_EQ(cache.latent_width(), 16 + 4 + 8);
  EXPECT_EQ(cache.bytes_per_token(), 2 * (16 + 4 + 8) * 4);
  std::printf("  DSA latent cache: %lld bytes/token at F32\n", static_cast<long long>(cache.bytes_per_token()));
  std::vector<float> row(28);
  for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<float>(i);
  Batch b;
  b.add(1, 0, 0, true);
  cache.begin_batch(b);
  cache.store_latent(1, 0, 0, row.data());
  const KVSpan idx = cache.indexer_span(1, 0);
  EXPECT_EQ(static_cast<const float*>(idx.k)[0], 20.0f) << "the indexer key starts after latent + rope";
  EXPECT_EQ(idx.k_stride, 28);

  ModelConfig v3 = c;
  v3.index_topk = v3.index_n_heads = v3.index_head_dim = 0;
  KVCache plain(v3, 8, 1, CacheType::F32);
  EXPECT_FALSE(plain.has_indexer_keys());
  EXPECT_EQ(plain.latent_width(), 20);
  EXPECT_THROW(plain.indexer_span(0, 0), Error);
}

TEST_F(DsaForwardTest, DecodeThroughTheCacheReproducesOneBatchLogits) {
  auto model = build_model(open_model(sparse_));
  ThreadPool pool(2);
  KVCache batch_cache(model->config(), 32, 1, CacheType::F32);
  const Activations all = prompt_logits(*model, kPrompt, batch_cache, pool);
  KVCache step_cache(model->config(), 32, 1, CacheType::F32);
  Activations steps(all.rows, all.cols);
  for (size_t i = 0; i < kPrompt.size(); ++i) {
    Batch one;
    one.add(kPrompt[i], static_cast<int64_t>(i), 0, true);
    const Activations row = model->forward(one, step_cache, pool);
    std::copy(row.data.begin(), row.data.end(), steps.row(static_cast<int64_t>(i)));
  }
  const double err = rel_rmse(steps, all);
  std::printf("  token-by-token vs one batch (index_topk %lld): rel RMSE %.3e\n", static_cast<long long>(kTopK), err);
  EXPECT_LT(err, 1e-6);
}

TEST_F(DsaForwardTest, SequencesInOneBatchDoNotSeeEachOther) {
  auto model = build_model(open_model(sparse_));
  ThreadPool pool(2);
  const std::vector<int32_t> other = {60, 1, 2, 33, 34, 35, 36};
  KVCache a(model->config(), 32, 1, CacheType::F32), b(model->config(), 32, 1, CacheType::F32);
  const Activations alone_a = prompt_logits(*model, kPrompt, a, pool);
  const Activations alone_b = prompt_logits(*model, other, b, pool);
  KVCache shared(model->config(), 32, 2, CacheType::F32);
  const double err = interleaved_vs_alone(*model, kPrompt, other, alone_a, alone_b, shared, pool);
  std::printf("  two sequences in one batch vs alone: max abs diff %.3e\n", err);
  EXPECT_LT(err, 1e-5);
}

TEST_F(DsaForwardTest, TheSelectionActsOncePositionsOutnumberTopK) {
  ThreadPool pool(2);
  auto sparse = build_model(open_model(sparse_));
  auto dense = build_model(open_model(dense_));
  KVCache cs(sparse->config(), 32, 1, CacheType::F32), cd(dense->config(), 32, 1, CacheType::F32);
  const Activations s = prompt_logits(*sparse, kPrompt, cs, pool);
  const Activations d = prompt_logits(*dense, kPrompt, cd, pool);
  for (int64_t p = 0; p < s.rows; ++p) {
    double num = 0, den = 0;
    for (int64_t v = 0; v < s.cols; ++v) {
      num += std::pow(double(s.row(p)[v]) - d.row(p)[v], 2);
      den += std::pow(double(d.row(p)[v]), 2);
    }
    const double err = std::sqrt(num / den);
    std::printf("  position %2lld: sparse vs dense rel RMSE %.3e\n", static_cast<long long>(p), err);
    if (p < kTopK) {
      EXPECT_LT(err, 1e-6) << "position " << p << " sees no more than index_topk positions";
    }
  }
  EXPECT_GT(rel_rmse(s, d), 1e-3) << "the later positions attend to index_topk of their positions only";
}

}  // namespace
}  // namespace dragon
