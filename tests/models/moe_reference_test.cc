// The routing of whole MoE models against the PyTorch reference: a small synthetic HF F32 model
// per family (real expert count and top-k, narrow widths, dense layers kept where the family has
// them), dragon's forward pass with a routing trace, and tests/parity/moe_compare.py's trace of
// the reference forward (float64). Every token of every MoE layer must choose the same experts
// with the same weights (relative error <= 1e-4). Logits parity is tests/parity/run_moe_parity.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/moe.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "synth/synth.h"
#include "test_paths.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

struct Family {
  const char* preset;
  int64_t layers;
  std::vector<std::string> sets;
  int64_t expected_moe_layers;
};

void check_routing_against_reference(const Family& f) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("dragon_moe_ref_{}_{}", f.preset, getpid());
  fs::remove_all(dir);
  SynthOptions options;
  options.preset = f.preset;
  options.format = "hf";
  options.dtype = "f32";
  options.layers = f.layers;
  options.seed = 11;
  options.sets = f.sets;
  options.out = dir.string();
  options.tokenizer_dir = test::tokenizers_dir().string();
  synthesize(options);

  std::vector<int32_t> tokens;
  for (int i = 0; i < 12; ++i) tokens.push_back((i * 7919 + 101) % 100000);
  std::string token_list;
  for (int32_t t : tokens) token_list += (token_list.empty() ? "" : ",") + std::to_string(t);
  const fs::path ref_path = dir / "routing.json";
  const std::string command = fmt::format("/usr/bin/python3 {}/tests/parity/moe_compare.py routing --model {} --tokens {} --out {}",
                                          DRAGON_SOURCE_DIR, dir.string(), token_list, ref_path.string());
  ASSERT_EQ(std::system(command.c_str()), 0) << "FAIL: " << command;
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(ref_path));

  std::unique_ptr<Model> model = build_model(open_model(dir.string()));
  auto* traceable = dynamic_cast<blocks::RoutingTraceable*>(model.get());
  ASSERT_NE(traceable, nullptr) << f.preset << ": the model does not expose its routing";
  std::vector<blocks::Routing> trace;
  traceable->set_routing_trace(&trace);
  KVCache cache(model->config(), 32, 1, CacheType::F32);
  Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int64_t>(i), 0, true);
  ThreadPool pool(2);
  model->forward(batch, cache, pool);

  ASSERT_EQ(static_cast<int64_t>(trace.size()), f.expected_moe_layers);
  ASSERT_EQ(ref["layers"].size(), trace.size());
  int64_t checked = 0, set_mismatches = 0;
  double max_rel = 0;
  for (size_t l = 0; l < trace.size(); ++l) {
    const blocks::Routing& r = trace[l];
    const auto& ref_experts = ref["layers"][l]["experts"];
    const auto& ref_weights = ref["layers"][l]["weights"];
    ASSERT_EQ(r.n_tokens, static_cast<int64_t>(tokens.size()));
    for (int64_t t = 0; t < r.n_tokens; ++t) {
      // Compare as (expert, weight) sets: order within a token does not change the output.
      std::vector<std::pair<int32_t, double>> mine, theirs;
      for (int64_t s = 0; s < r.k; ++s) {
        mine.emplace_back(r.experts[t * r.k + s], r.weights[t * r.k + s]);
        theirs.emplace_back(ref_experts[t][s].get<int32_t>(), ref_weights[t][s].get<double>());
      }
      std::sort(mine.begin(), mine.end());
      std::sort(theirs.begin(), theirs.end());
      ++checked;
      bool same = true;
      for (int64_t s = 0; s < r.k; ++s) same = same && mine[s].first == theirs[s].first;
      if (!same) {
        ++set_mismatches;
        ADD_FAILURE() << f.preset << " MoE layer " << l << " token " << t << ": experts differ from the reference";
        continue;
      }
      for (int64_t s = 0; s < r.k; ++s)
        max_rel = std::max(max_rel, std::abs(mine[s].second - theirs[s].second) / std::abs(theirs[s].second));
    }
  }
  std::printf("%s: %zu MoE layers x %zu tokens, k=%lld: %lld/%lld token routings with the reference's experts, "
              "max relative weight error %.3g\n",
              f.preset, trace.size(), tokens.size(), static_cast<long long>(trace[0].k),
              static_cast<long long>(checked - set_mismatches), static_cast<long long>(checked), max_rel);
  EXPECT_LE(max_rel, 1e-4);
  fs::remove_all(dir);
}

const std::vector<std::string> kNarrow = {"hidden_size=64", "moe_intermediate_size=16"};

TEST(MoeReference, Qwen3MoeRoutingEqualsPyTorch) {  // 128 experts, top-8, renormalised
  check_routing_against_reference({"qwen3-30b-a3b", 2,
                                   {"hidden_size=64", "moe_intermediate_size=16", "num_attention_heads=2",
                                    "num_key_value_heads=1", "head_dim=32"},
                                   2});
}

TEST(MoeReference, DeepseekMoeRoutingEqualsPyTorch) {  // 64 experts, top-6, raw softmax weights
  check_routing_against_reference({"deepseek-moe-16b", 3,
                                   {"hidden_size=64", "moe_intermediate_size=16", "intermediate_size=64",
                                    "num_attention_heads=2", "num_key_value_heads=2"},
                                   2});
}

TEST(MoeReference, Ernie45MoeRoutingEqualsPyTorch) {  // 64 experts, top-6, moe_statics bias
  check_routing_against_reference({"ernie-4.5-21b-a3b", 3,
                                   {"hidden_size=128", "moe_intermediate_size=16", "intermediate_size=64",
                                    "num_attention_heads=1", "num_key_value_heads=1"},
                                   2});
}

}  // namespace
}  // namespace dragon
