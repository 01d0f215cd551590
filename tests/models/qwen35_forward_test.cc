// Qwen3.5 (qwen35 dense, qwen35moe) on small synthetic models of the qwen3.5-27b and
// qwen3.5-35b-a3b presets (4 layers: three Gated DeltaNet layers and one gated attention layer;
// 2 k / 6 v linear heads, so the GGUF's v heads are really reordered from grouped to tiled):
//  - the multimodal config (text_config) and HF layout (model.language_model.*) load, and the
//    GGUF gets llama.cpp's qwen35 / qwen35moe keys and tensors;
//  - the HF directory and the GGUF file of one seed give the same logits (the converter's v-head
//    reordering, split fused experts, 1 + w norms);
//  - the chunked prompt pass and token-by-token decoding agree (the tiled k-head lookup in both).
// Parity with llama.cpp and PyTorch: tests/parity/run_qwen35_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/forward_checks.h"
#include "runtime/model.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

SynthOptions tiny_options(const std::string& preset, const std::string& format, const fs::path& out) {
  SynthOptions o;
  o.preset = preset;
  o.format = format;
  o.layers = 4;
  o.seed = 11;
  o.sets = {"text_config.hidden_size=32",        "text_config.num_attention_heads=2",
            "text_config.num_key_value_heads=1", "text_config.head_dim=16",
            "text_config.linear_num_key_heads=2", "text_config.linear_num_value_heads=6",
            "text_config.linear_key_head_dim=8", "text_config.linear_value_head_dim=8"};
  if (preset == "qwen3.5-27b") {
    o.sets.push_back("text_config.intermediate_size=48");
  } else {
    for (const char* s : {"text_config.num_experts=4", "text_config.num_experts_per_tok=2",
                          "text_config.moe_intermediate_size=16", "text_config.shared_expert_intermediate_size=16"})
      o.sets.push_back(s);
  }
  o.out = out.string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  return o;
}

class Qwen35ForwardTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_qwen35_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    for (const char* preset : {"qwen3.5-27b", "qwen3.5-35b-a3b"}) {
      synthesize(tiny_options(preset, "gguf", dir_ / (std::string(preset) + ".gguf")));
      synthesize(tiny_options(preset, "hf", dir_ / (std::string(preset) + "-hf")));
    }
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::unique_ptr<Model> load(const std::string& name) { return build_model(open_model((dir_ / name).string())); }
  static inline fs::path dir_;
};

const std::vector<int32_t> kPrompt = {9707, 11, 1879, 0, 151643, 42, 42, 7, 100, 2000, 3, 88, 5, 6};

TEST_P(Qwen35ForwardTest, MultimodalLayoutLoadsAsTheTextModel) {
  const std::string preset = GetParam();
  const bool moe = preset == "qwen3.5-35b-a3b";
  auto gguf = GGUFFile::open((dir_ / (preset + ".gguf")).string());
  const std::string arch = moe ? "qwen35moe" : "qwen35";
  ASSERT_NE(gguf->find("general.architecture"), nullptr);
  EXPECT_EQ(gguf->find("general.architecture")->as_string(), arch);
  ASSERT_NE(gguf->find(arch + ".rope.dimension_sections"), nullptr);
  EXPECT_EQ(gguf->find(arch + ".rope.dimension_sections")->as_array().size(), 4u);
  ASSERT_NE(gguf->find(arch + ".attention.recurrent_layers"), nullptr);  // the config lists layer_types
  EXPECT_NE(gguf->find_tensor("blk.0.ssm_beta.weight"), nullptr);
  EXPECT_NE(gguf->find_tensor("blk.0.ssm_alpha.weight"), nullptr);
  EXPECT_EQ(gguf->find_tensor("blk.0.ssm_ba.weight"), nullptr);
  EXPECT_EQ(gguf->find_tensor("blk.0.ffn_gate_exps.weight") != nullptr, moe);

  const OpenedModel hf = open_model((dir_ / (preset + "-hf")).string());
  EXPECT_EQ(hf.config.arch, arch);
  EXPECT_EQ(hf.config.rotary_dim, 4);  // partial_rotary_factor 0.25 of head_dim 16
  EXPECT_NE(hf.find_tensor("model.language_model.layers.0.linear_attn.in_proj_qkv.weight"), nullptr);
  EXPECT_EQ(hf.find_tensor("model.layers.0.linear_attn.in_proj_qkv.weight"), nullptr);
  EXPECT_EQ(hf.find_tensor("model.language_model.layers.0.mlp.experts.gate_up_proj") != nullptr, moe);
  std::vector<bool> recurrent;
  for (int64_t il = 0; il < hf.config.n_layers; ++il) recurrent.push_back(hf.config.layer_is_recurrent(il));
  EXPECT_EQ(recurrent, (std::vector<bool>{true, true, true, false}));
}

TEST_P(Qwen35ForwardTest, HfAndGgufGiveTheSameLogits) {
  const std::string preset = GetParam();
  auto a = load(preset + ".gguf"), b = load(preset + "-hf");
  ThreadPool pool(2);
  KVCache ca(a->config(), 64, 1, CacheType::F32), cb(b->config(), 64, 1, CacheType::F32);
  const double err = rel_rmse(feed(*a, ca, pool, kPrompt, 0), feed(*b, cb, pool, kPrompt, 0));
  std::printf("  %s GGUF vs HF: rel RMSE %.3e\n", preset.c_str(), err);
  EXPECT_LT(err, 1e-6);
}

TEST_P(Qwen35ForwardTest, ChunkedPromptMatchesTokenByToken) {
  const std::string preset = GetParam();
  auto model = load(preset + ".gguf");
  ThreadPool pool(2);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back((i * 7919 + 101) % 151643);  // 32 + 8: two chunks
  KVCache whole(model->config(), 64, 1, CacheType::F32);
  const Activations all = feed(*model, whole, pool, prompt, 0);
  KVCache step_cache(model->config(), 64, 1, CacheType::F32);
  const Activations steps = feed_token_by_token(*model, step_cache, pool, prompt);
  // Without the carried state the last 20 tokens would be a fresh prompt: far from the batch.
  KVCache fresh(model->config(), 64, 1, CacheType::F32);
  const Activations no_state = feed(*model, fresh, pool, {prompt.begin() + 20, prompt.end()}, 0);
  Activations tail(20, all.cols);
  std::copy(all.row(20), all.row(20) + 20 * all.cols, tail.data.begin());
  const double err = rel_rmse(steps, all), err_no_state = rel_rmse(no_state, tail);
  std::printf("  %s 40 tokens chunked vs token by token: rel RMSE %.3e; the last 20 without state: %.3e\n",
              preset.c_str(), err, err_no_state);
  EXPECT_LT(err, 1e-5);
  EXPECT_GT(err_no_state, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Presets, Qwen35ForwardTest, ::testing::Values("qwen3.5-27b", "qwen3.5-35b-a3b"),
                         [](const auto& info) { return std::string(info.param).find("a3b") != std::string::npos ? "moe" : "dense"; });

}  // namespace
}  // namespace dragon
