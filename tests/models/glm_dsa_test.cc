// GLM-5 (arch glm-dsa, models/arch_glm_dsa.cc): the glm-5 preset's config.json read into
// ModelConfig, GLM-5.2's shared indexer layers refused with a clear error, the GGUF metadata read
// back, and the one thing that separates its forward pass from DeepSeek-V3.2's — the indexer's
// rope in adjacent pairs — shown to act: on a tiny random model (indexer 4 heads of 8, 4 rope
// dims, index_topk 3 against a 12-token prompt) glm-dsa and deepseek32 files with the SAME
// tensors agree while a token sees no more than index_topk positions and differ after.
// Parity with llama.cpp and PyTorch is tests/parity/run_glm_dsa_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

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

nlohmann::json glm5_json() { return nlohmann::json::parse(find_preset("glm-5")->config_json); }

constexpr int64_t kTopK = 3;

ModelConfig tiny_config() {
  nlohmann::json hf = glm5_json();
  hf["vocab_size"] = 64;
  hf["eos_token_id"] = 1;  // the release's ids are past the tiny vocabulary
  hf["pad_token_id"] = 1;
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
  hf["num_experts_per_tok"] = 2;
  hf["moe_intermediate_size"] = 16;
  hf["index_n_heads"] = 4;
  hf["index_head_dim"] = 8;
  hf["index_topk"] = kTopK;
  return config_from_hf(hf);
}

TEST(GlmDsaConfig, ThePresetReadsAsGlmDsa) {
  const ModelConfig c = config_from_hf(glm5_json());
  std::printf("  glm-5: arch %s, %lld layers + %lld MTP, heads %lld of %lld (v %lld), indexer %lld x %lld top %lld\n",
              c.arch.c_str(), static_cast<long long>(c.n_layers), static_cast<long long>(c.n_nextn_layers),
              static_cast<long long>(c.n_heads), static_cast<long long>(c.head_dim),
              static_cast<long long>(c.v_head_dim), static_cast<long long>(c.index_n_heads),
              static_cast<long long>(c.index_head_dim), static_cast<long long>(c.index_topk));
  EXPECT_EQ(c.arch, "glm-dsa");
  EXPECT_EQ(c.n_layers, 78);
  EXPECT_EQ(c.n_nextn_layers, 1);
  EXPECT_EQ(c.head_dim, 192 + 64);  // qk_nope + qk_rope, not config.json's head_dim 64
  EXPECT_EQ(c.v_head_dim, 256);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.kv_lora_rank, 512);
  EXPECT_EQ(c.q_lora_rank, 2048);
  EXPECT_EQ(c.index_n_heads, 32);
  EXPECT_EQ(c.index_head_dim, 128);
  EXPECT_EQ(c.index_topk, 2048);
  EXPECT_TRUE(c.index_rope_interleaved);
  EXPECT_TRUE(c.rope_interleaved);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);  // from rope_parameters
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.expert_score_bias);
  EXPECT_EQ(c.first_k_dense_replace, 3);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  // DeepSeek-V3.2 keeps its halves.
  EXPECT_FALSE(config_from_hf(nlohmann::json::parse(find_preset("deepseek-v3.2")->config_json)).index_rope_interleaved);
}

TEST(GlmDsaConfig, SharedIndexerLayersAreRefused) {
  nlohmann::json hf = glm5_json();
  hf["num_hidden_layers"] = 4;
  hf["indexer_types"] = {"full", "full", "full", "full"};
  EXPECT_NO_THROW(config_from_hf(hf));
  for (const auto& edit : std::vector<std::pair<std::string, nlohmann::json>>{
           {"indexer_types", {"full", "shared", "full", "shared"}},
           {"index_topk_pattern", "FSSF"},
           {"index_topk_freq", 4}}) {
    nlohmann::json bad = glm5_json();
    bad["num_hidden_layers"] = 4;
    bad[edit.first] = edit.second;
    try {
      config_from_hf(bad);
      ADD_FAILURE() << edit.first << " = " << edit.second.dump() << " was accepted";
    } catch (const Error& e) {
      std::printf("  %s = %s: %s\n", edit.first.c_str(), edit.second.dump().c_str(), e.what());
      EXPECT_NE(std::string(e.what()).find("shared"), std::string::npos);
    }
  }
  nlohmann::json typo = glm5_json();
  typo["indexer_types"] = {"full", "sparse"};
  EXPECT_THROW(config_from_hf(typo), Error);
}

class GlmDsaForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_glm_dsa_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const ModelConfig c = tiny_config();
    glm_ = write_random_gguf(c, "glm-dsa", (dir_ / "tiny-glm-dsa.gguf").string());
    ModelConfig v32 = c;  // the same tensors (same plans, same seeds) under V3.2's metadata
    v32.arch = "deepseek32";
    v32.index_rope_interleaved = false;
    deepseek32_ = write_random_gguf(v32, "deepseek32", (dir_ / "tiny-deepseek32.gguf").string());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static inline fs::path dir_;
  static inline std::string glm_, deepseek32_;
};

const std::vector<int32_t> kPrompt = {3, 17, 42, 5, 63, 0, 9, 9, 28, 51, 11, 7};

TEST_F(GlmDsaForwardTest, TheGgufReadsBackAsGlmDsa) {
  const OpenedModel opened = open_model(glm_);
  EXPECT_EQ(opened.config.arch, "glm-dsa");
  EXPECT_TRUE(opened.config.index_rope_interleaved);
  EXPECT_EQ(opened.config.index_topk, kTopK);
  EXPECT_FALSE(open_model(deepseek32_).config.index_rope_interleaved);
}

TEST_F(GlmDsaForwardTest, DecodeThroughTheCacheReproducesOneBatchLogits) {
  auto model = build_model(open_model(glm_));
  ThreadPool pool(2);
  KVCache batch_cache(model->config(), 32, 1, CacheType::F32), step_cache(model->config(), 32, 1, CacheType::F32);
  const Activations all = prompt_logits(*model, kPrompt, batch_cache, pool);
  const Activations steps = feed_token_by_token(*model, step_cache, pool, kPrompt);
  const double err = rel_rmse(steps, all);
  std::printf("  glm-dsa token-by-token vs one batch (index_topk %lld): rel RMSE %.3e\n",
              static_cast<long long>(kTopK), err);
  EXPECT_LT(err, 1e-6);
}

TEST_F(GlmDsaForwardTest, TheIndexerRopeStyleActsOncePositionsOutnumberTopK) {
  ThreadPool pool(2);
  auto glm = build_model(open_model(glm_));
  auto v32 = build_model(open_model(deepseek32_));
  KVCache cg(glm->config(), 32, 1, CacheType::F32), cv(v32->config(), 32, 1, CacheType::F32);
  const Activations g = prompt_logits(*glm, kPrompt, cg, pool);
  const Activations v = prompt_logits(*v32, kPrompt, cv, pool);
  double later = 0;
  for (int64_t p = 0; p < g.rows; ++p) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < g.cols; ++i) {
      num += std::pow(double(g.row(p)[i]) - v.row(p)[i], 2);
      den += std::pow(double(v.row(p)[i]), 2);
    }
    const double err = std::sqrt(num / den);
    std::printf("  position %2lld: glm-dsa (pairs) vs deepseek32 (halves) rel RMSE %.3e\n", static_cast<long long>(p),
                err);
    if (p < kTopK) EXPECT_LT(err, 1e-6) << "position " << p << " attends densely: the indexer is not consulted";
    else later = std::max(later, err);
  }
  EXPECT_GT(later, 1e-3) << "the indexer's rope style changes which positions are selected";
}

}  // namespace
}  // namespace dragon
