// The GLM-4.5 (glm4moe), MiniMax-M2 (minimax-m2) and Hunyuan-A13B (hunyuan-moe) forward passes on
// tiny random models (GGUF written here, vocabulary of 64, 8 experts, top-2): the KV cache path
// must reproduce the one-batch logits (the routing of a token must not depend on its batch),
// sequences in one batch must not see each other, threads must not change results, and GLM's
// MTP layer stays in the file without being run. Logits parity with llama.cpp and PyTorch on
// full-vocabulary models is tests/parity/run_moe2_parity.sh. The routing of every token of every
// MoE layer of a small synthetic HF model (real vocabulary and expert count) must equal the
// PyTorch reference's (tests/parity/moe_compare.py): same experts, weights within 1e-4.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/moe.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "synth/preset.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "models/forward_checks.h"
#include "models/random_gguf.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kVocab = 64;

struct Family {
  const char* preset;
  const char* gguf_arch;
  nlohmann::json overrides;  // on top of the small shape every family gets
};

std::ostream& operator<<(std::ostream& os, const Family& f) { return os << f.gguf_arch; }

const Family kFamilies[] = {
    // 3 layers: layer 0 dense (first_k_dense_replace 1), 1-2 MoE; plus the MTP layer. QK-norm on
    // (GLM-4.5/4.6) and a routed_scaling_factor, so both optional parts run.
    {"glm-4.5-air", "glm4moe",
     {{"num_hidden_layers", 3}, {"n_routed_experts", 8}, {"num_experts_per_tok", 2}, {"moe_intermediate_size", 16},
      {"intermediate_size", 48}, {"use_qk_norm", true}, {"routed_scaling_factor", 2.5}, {"pad_token_id", 0},
      {"eos_token_id", 2}}},
    {"minimax-m2", "minimax-m2",
     {{"num_hidden_layers", 2}, {"num_local_experts", 8}, {"num_experts_per_tok", 2}, {"intermediate_size", 16},
      {"rotary_dim", 8}, {"attn_type_list", {1, 1}}}},
    {"hunyuan-a13b", "hunyuan-moe",
     {{"num_hidden_layers", 2}, {"num_experts", 8}, {"moe_topk", 2}, {"moe_intermediate_size", 16},
      {"intermediate_size", 16}, {"num_shared_expert", 1}, {"attention_head_dim", 16}, {"pad_token_id", 0},
      {"pad_id", 0}, {"eod_token_id", 3}, {"sep_token_id", 4}}},
};

// A random GGUF of the family: norm weights and 1-D biases 1 + N(0, 0.1), matrices N(0, 1/fan_in).
std::string write_tiny(const Family& family, const fs::path& dir) {
  nlohmann::json hf = nlohmann::json::parse(find_preset(family.preset)->config_json);
  hf.erase("quantization_config");
  hf["vocab_size"] = kVocab;
  hf["hidden_size"] = 32;
  hf["num_attention_heads"] = 4;
  hf["num_key_value_heads"] = 2;
  hf["head_dim"] = 16;
  hf["max_position_embeddings"] = 64;
  hf["bos_token_id"] = 1;
  hf["eos_token_id"] = 2;
  hf.merge_patch(family.overrides);
  const ModelConfig c = config_from_hf(hf);
  return write_random_gguf(c, family.gguf_arch, (dir / (std::string(family.gguf_arch) + ".gguf")).string());
}

class MoeFamilyForwardTest : public ::testing::TestWithParam<Family> {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_forward_moe2_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<Model> load() {
    const fs::path path = dir_ / (std::string(GetParam().gguf_arch) + ".gguf");
    if (!fs::exists(path)) write_tiny(GetParam(), dir_);
    return build_model(open_model(path.string()));
  }

  static inline fs::path dir_;
};

const std::vector<int32_t> kPrompt = {3, 17, 42, 5, 63, 0, 9, 9, 28, 51, 11, 7};

TEST_P(MoeFamilyForwardTest, DecodeThroughTheCacheReproducesOneBatchLogits) {
  auto model = load();
  ThreadPool pool(2);
  KVCache batch_cache(model->config(), 32, 1, CacheType::F32);
  const Activations all = prompt_logits(*model, kPrompt, batch_cache, pool);
  ASSERT_EQ(all.rows, static_cast<int64_t>(kPrompt.size()));
  ASSERT_EQ(all.cols, kVocab);

  KVCache step_cache(model->config(), 32, 1, CacheType::F32);
  Activations steps(all.rows, all.cols);
  for (size_t i = 0; i < kPrompt.size(); ++i) {
    Batch one;
    one.add(kPrompt[i], static_cast<int64_t>(i), 0, true);
    const Activations row = model->forward(one, step_cache, pool);
    std::copy(row.data.begin(), row.data.end(), steps.row(static_cast<int64_t>(i)));
  }
  const double err = rel_rmse(steps, all);
  std::printf("  %s token-by-token vs one batch: rel RMSE %.3e\n", GetParam().gguf_arch, err);
  EXPECT_LT(err, 1e-5);
}

TEST_P(MoeFamilyForwardTest, SequencesInOneBatchDoNotSeeEachOther) {
  auto model = load();
  ThreadPool pool(1);
  const std::vector<int32_t> other = {60, 1, 2, 33, 34};
  KVCache a(model->config(), 32, 1, CacheType::F32), b(model->config(), 32, 1, CacheType::F32);
  const Activations alone_a = prompt_logits(*model, kPrompt, a, pool);
  const Activations alone_b = prompt_logits(*model, other, b, pool);

  KVCache shared(model->config(), 32, 2, CacheType::F32);
  const double err = interleaved_vs_alone(*model, kPrompt, other, alone_a, alone_b, shared, pool);
  std::printf("  %s two sequences in one batch vs alone: max abs diff %.3e\n", GetParam().gguf_arch, err);
  EXPECT_LT(err, 1e-4);
}

TEST_P(MoeFamilyForwardTest, ThreadsDoNotChangeResults) {
  auto model = load();
  ThreadPool one(1), three(3);
  KVCache c1(model->config(), 32, 1, CacheType::F16), c3(model->config(), 32, 1, CacheType::F16);
  const Activations a = prompt_logits(*model, kPrompt, c1, one), b = prompt_logits(*model, kPrompt, c3, three);
  EXPECT_EQ(a.data, b.data);
}

TEST_P(MoeFamilyForwardTest, LogitsAreFiniteAndDependOnTheToken) {
  auto model = load();
  ThreadPool pool(1);
  KVCache cache(model->config(), 32, 1, CacheType::F32);
  const Activations logits = prompt_logits(*model, kPrompt, cache, pool);
  for (float v : logits.data) ASSERT_TRUE(std::isfinite(v));
  // The next-token choice varies along the prompt (the model is not degenerate).
  std::set<int32_t> choices;
  for (int64_t r = 0; r < logits.rows; ++r) choices.insert(argmax(logits.row(r), kVocab));
  std::printf("  %s: %zu distinct argmax over %lld positions\n", GetParam().gguf_arch, choices.size(),
              static_cast<long long>(logits.rows));
  EXPECT_GT(choices.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Families, MoeFamilyForwardTest, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) {
                           std::string name = info.param.gguf_arch;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

TEST(Glm4MoeForwardTest, MtpLayerIsKeptButNotPartOfTheStack) {
  const fs::path dir = fs::temp_directory_path() / ("dragon_forward_glm_mtp_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string path = write_tiny(kFamilies[0], dir);
  OpenedModel opened = open_model(path);
  EXPECT_EQ(opened.config.n_layers, 3);
  EXPECT_EQ(opened.config.n_nextn_layers, 1);
  EXPECT_FALSE(opened.config.layer_is_moe(0));
  EXPECT_TRUE(opened.config.layer_is_moe(1));
  auto model = build_model(std::move(opened));
  ThreadPool pool(1);
  KVCache cache(model->config(), 8, 1, CacheType::F32);
  EXPECT_EQ(prompt_logits(*model, {1, 2, 3}, cache, pool).rows, 3);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// dragon's routing trace vs the reference's on one synthetic HF F32 model of `preset`.
void check_routing_against_reference(const std::string& preset, int64_t layers, const std::vector<std::string>& sets,
                                      size_t expected_moe_layers) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("dragon_moe2_ref_{}_{}", preset, getpid());
  fs::remove_all(dir);
  SynthOptions options;
  options.preset = preset;
  options.format = "hf";
  options.layers = layers;
  options.seed = 5;
  options.sets = sets;
  options.out = dir.string();
  options.tokenizer_dir = test::tokenizers_dir().string();
  synthesize(options);

  std::vector<int32_t> tokens;
  std::string token_list;
  for (int i = 0; i < 16; ++i) {
    tokens.push_back((i * 7919 + 101) % 100000);
    token_list += (token_list.empty() ? "" : ",") + std::to_string(tokens.back());
  }
  const fs::path ref_path = dir / "routing.json";
  const std::string command = fmt::format("/usr/bin/python3 {}/tests/parity/moe_compare.py routing --model {} --tokens {} --out {}",
                                          DRAGON_SOURCE_DIR, dir.string(), token_list, ref_path.string());
  ASSERT_EQ(std::system(command.c_str()), 0) << "FAIL: " << command;
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(ref_path));

  std::unique_ptr<Model> model = build_model(open_model(dir.string()));
  auto* traceable = dynamic_cast<blocks::RoutingTraceable*>(model.get());
  ASSERT_NE(traceable, nullptr) << preset << ": the model does not expose its routing";
  std::vector<blocks::Routing> trace;
  traceable->set_routing_trace(&trace);
  KVCache cache(model->config(), 32, 1, CacheType::F32);
  ThreadPool pool(2);
  prompt_logits(*model, tokens, cache, pool);

  ASSERT_EQ(trace.size(), expected_moe_layers);
  ASSERT_EQ(ref["layers"].size(), trace.size());
  int64_t same_sets = 0;
  double max_rel = 0;
  for (size_t l = 0; l < trace.size(); ++l) {
    const blocks::Routing& r = trace[l];
    for (int64_t t = 0; t < r.n_tokens; ++t) {
      // Compared as (expert, weight) sets: the order within a token does not change the output.
      std::vector<std::pair<int32_t, double>> mine, theirs;
      for (int64_t s = 0; s < r.k; ++s) {
        mine.emplace_back(r.experts[t * r.k + s], r.weights[t * r.k + s]);
        theirs.emplace_back(ref["layers"][l]["experts"][t][s].get<int32_t>(),
                            ref["layers"][l]["weights"][t][s].get<double>());
      }
      std::sort(mine.begin(), mine.end());
      std::sort(theirs.begin(), theirs.end());
      bool same = true;
      for (int64_t s = 0; s < r.k; ++s) same = same && mine[s].first == theirs[s].first;
      if (!same) {
        ADD_FAILURE() << preset << " MoE layer " << l << " token " << t << ": experts differ from the reference";
        continue;
      }
      ++same_sets;
      for (int64_t s = 0; s < r.k; ++s)
        max_rel = std::max(max_rel, std::abs(mine[s].second - theirs[s].second) / std::abs(theirs[s].second));
    }
  }
  std::printf("  %s: %zu MoE layers x %zu tokens, k=%lld: %lld token routings with the reference's experts, "
              "max relative weight error %.3g\n",
              preset.c_str(), trace.size(), tokens.size(), static_cast<long long>(trace[0].k),
              static_cast<long long>(same_sets), max_rel);
  EXPECT_EQ(same_sets, static_cast<int64_t>(trace.size() * tokens.size()));
  EXPECT_LE(max_rel, 1e-4);
  fs::remove_all(dir);
}

const std::vector<std::string> kNarrow = {"hidden_size=64", "num_attention_heads=2", "num_key_value_heads=1"};

std::vector<std::string> narrow(std::vector<std::string> more) {
  more.insert(more.begin(), kNarrow.begin(), kNarrow.end());
  return more;
}

// Air's 128 experts, top-8, sigmoid + correction bias; layer 0 dense; GLM-4.5's scaling 2.5.
TEST(MoeFamilyRouting, Glm45RoutingEqualsPyTorch) {
  check_routing_against_reference("glm-4.5-air", 3,
                                  narrow({"intermediate_size=64", "moe_intermediate_size=16", "routed_scaling_factor=2.5"}),
                                  2);
}

// 256 experts, top-8, sigmoid + correction bias, renormalised.
TEST(MoeFamilyRouting, MiniMaxM2RoutingEqualsPyTorch) {
  check_routing_against_reference("minimax-m2", 2, narrow({"intermediate_size=16"}), 2);
}

// 64 experts, top-8, softmax renormalised, shared MLP.
TEST(MoeFamilyRouting, HunyuanA13BRoutingEqualsPyTorch) {
  check_routing_against_reference("hunyuan-a13b", 2, narrow({"intermediate_size=16", "moe_intermediate_size=[16,16]"}),
                                  2);
}

}  // namespace
}  // namespace dragon
