// The Qwen3 forward pass on a tiny random model (GGUF written here, vocabulary of 64): the KV
// cache path must reproduce the one-batch logits, sequences in one batch must not see each
// other, threads must not change results, and bad input must fail with a clear error. Parity
// with llama.cpp and PyTorch on full-vocabulary models is tests/parity/run_dense_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "io/gguf.h"
#include "models/arch.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "synth/preset.h"
#include "util/error.h"
#include "models/forward_checks.h"
#include "models/random_gguf.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

// A random qwen3 GGUF: norm weights 1 + N(0, 0.1), projections N(0, 1/fan_in).
std::string write_tiny_qwen3(const fs::path& dir) {
  nlohmann::json hf = nlohmann::json::parse(find_preset("qwen3-0.6b")->config_json);
  hf["vocab_size"] = 64;
  hf["hidden_size"] = 32;
  hf["intermediate_size"] = 48;
  hf["num_hidden_layers"] = 2;
  hf["num_attention_heads"] = 4;
  hf["num_key_value_heads"] = 2;
  hf["head_dim"] = 16;
  hf["max_position_embeddings"] = 64;
  hf["bos_token_id"] = 1;
  hf["eos_token_id"] = 2;
  const ModelConfig c = config_from_hf(hf);
  return write_random_gguf(c, "qwen3", (dir / "tiny-qwen3.gguf").string());
}

class ForwardQwen3Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_forward_qwen3_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    path_ = write_tiny_qwen3(dir_);
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

TEST_F(ForwardQwen3Test, DecodeThroughTheCacheReproducesOneBatchLogits) {
  auto model = load();
  ThreadPool pool(2);
  KVCache batch_cache(model->config(), 32, 1, CacheType::F32);
  const Activations all = prompt_logits(*model, kPrompt, batch_cache, pool);
  ASSERT_EQ(all.rows, static_cast<int64_t>(kPrompt.size()));
  ASSERT_EQ(all.cols, 64);

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
  std::printf("  f16 cache vs f32 cache: rel RMSE %.3e\n", err16);
  EXPECT_LT(err16, 5e-3);
  EXPECT_GT(err16, 0.0) << "the f16 cache should round something";
}

TEST_F(ForwardQwen3Test, SequencesInOneBatchDoNotSeeEachOther) {
  auto model = load();
  ThreadPool pool(1);
  const std::vector<int32_t> other = {60, 1, 2, 33, 34};
  KVCache a(model->config(), 32, 1, CacheType::F32), b(model->config(), 32, 1, CacheType::F32);
  const Activations alone_a = prompt_logits(*model, kPrompt, a, pool);
  const Activations alone_b = prompt_logits(*model, other, b, pool);

  KVCache shared(model->config(), 32, 2, CacheType::F32);
  const double err = interleaved_vs_alone(*model, kPrompt, other, alone_a, alone_b, shared, pool);
  std::printf("  two sequences in one batch vs alone: max abs diff %.3e\n", err);
  EXPECT_LT(err, 1e-5);
}

TEST_F(ForwardQwen3Test, ThreadsDoNotChangeResults) {
  auto model = load();
  ThreadPool one(1), three(3);
  KVCache c1(model->config(), 32, 1, CacheType::F16), c3(model->config(), 32, 1, CacheType::F16);
  const Activations a = prompt_logits(*model, kPrompt, c1, one), b = prompt_logits(*model, kPrompt, c3, three);
  EXPECT_EQ(a.data, b.data);
}

TEST_F(ForwardQwen3Test, GreedyGenerationFollowsTheArgmaxOfFullRecomputation) {
  auto model = load();
  ThreadPool pool(2);
  KVCache cache(model->config(), 32, 1, CacheType::F32);
  const std::vector<int32_t> got = generate_greedy(*model, {1, 2, 3}, 8, cache, pool);
  ASSERT_EQ(got.size(), 8u);
  // Without the cache: recompute the whole sequence each step and take the last argmax.
  std::vector<int32_t> seq = {1, 2, 3};
  for (int32_t token : got) {
    KVCache fresh(model->config(), 32, 1, CacheType::F32);
    const Activations logits = prompt_logits(*model, seq, fresh, pool);
    EXPECT_EQ(argmax(logits.row(logits.rows - 1), 64), token) << "after " << seq.size() << " tokens";
    seq.push_back(token);
  }
  std::printf("  generated:");
  for (int32_t t : got) std::printf(" %d", t);
  std::printf("\n");
}

void expect_error(const std::function<void()>& body, const std::string& part) {
  try {
    body();
    ADD_FAILURE() << "no error; expected one mentioning " << part;
  } catch (const Error& e) {
    std::printf("  %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST_F(ForwardQwen3Test, BadInputFailsClearly) {
  auto model = load();
  ThreadPool pool(1);
  KVCache cache(model->config(), 8, 1, CacheType::F32);
  expect_error([&] { prompt_logits(*model, {1, 64}, cache, pool); }, "outside the vocabulary");
  expect_error([&] { prompt_logits(*model, std::vector<int32_t>(9, 1), cache, pool); }, "outside the context");
  expect_error([&] {
    Batch gap;
    gap.add(1, 5, 0, true);
    KVCache fresh(model->config(), 8, 1, CacheType::F32);
    model->forward(gap, fresh, pool);
  }, "gap");
  expect_error([&] {
    Batch bad;
    bad.add(1, 0, 3, true);
    model->forward(bad, cache, pool);
  }, "sequence id 3");
  expect_error([] { parse_token_list("1,,2"); }, "empty entry");
  expect_error([] { parse_token_list("1,-2"); }, "not a token id");
  OpenedModel opened = open_model(path_);
  opened.config.arch = "qwen3moe";
  expect_error([&] { build_model(std::move(opened)); }, "qwen3moe");
}

}  // namespace
}  // namespace dragon
