// DeepSeek-V2-Lite (softmax scores, greedy top-k; 8 experts, top-2 here) and DeepSeek-V3
// (sigmoid + e_score_correction_bias, noaux_tc groups: 16 experts in 4 groups, top-2 groups, top-4,
// norm_topk_prob, routed_scaling_factor 2.5) routing through the whole MLA model against the
// PyTorch reference (tests/reference/families/deepseek_v2.py via tests/parity/moe_compare.py,
// float64): every token of every MoE layer chooses the same experts with the same weights
// (relative error <= 1e-4). Logits parity is tests/parity/run_mla_parity.sh.
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

void check_mla_routing(const std::string& preset, const std::vector<std::string>& sets) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("dragon_mla_routing_{}_{}", preset, getpid());
  fs::remove_all(dir);
  SynthOptions options;
  options.preset = preset;
  options.format = "hf";
  options.dtype = "f32";
  options.layers = 3;  // 1 dense + 2 MoE
  options.seed = 11;
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
  const std::string command =
      fmt::format("/usr/bin/python3 {}/tests/parity/moe_compare.py routing --model {} --tokens {} --out {}",
                  DRAGON_SOURCE_DIR, dir.string(), token_list, ref_path.string());
  ASSERT_EQ(std::system(command.c_str()), 0) << "FAIL: " << command;
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(ref_path));

  std::unique_ptr<Model> model = build_model(open_model(dir.string()));
  auto* traceable = dynamic_cast<blocks::RoutingTraceable*>(model.get());
  ASSERT_NE(traceable, nullptr);
  std::vector<blocks::Routing> trace;
  traceable->set_routing_trace(&trace);
  KVCache cache(model->config(), 32, 1, CacheType::F32);
  Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int64_t>(i), 0, true);
  ThreadPool pool(2);
  model->forward(batch, cache, pool);

  ASSERT_EQ(trace.size(), 2u);
  ASSERT_EQ(ref["layers"].size(), trace.size());
  int64_t same_sets = 0, checked = 0;
  double max_rel = 0;
  for (size_t l = 0; l < trace.size(); ++l) {
    const blocks::Routing& r = trace[l];
    for (int64_t t = 0; t < r.n_tokens; ++t) {
      std::vector<std::pair<int32_t, double>> mine, theirs;
      for (int64_t s = 0; s < r.k; ++s) {
        mine.emplace_back(r.experts[t * r.k + s], r.weights[t * r.k + s]);
        theirs.emplace_back(ref["layers"][l]["experts"][t][s].get<int32_t>(),
                            ref["layers"][l]["weights"][t][s].get<double>());
      }
      std::sort(mine.begin(), mine.end());
      std::sort(theirs.begin(), theirs.end());
      ++checked;
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
  std::printf("  %s: %lld/%lld token routings with the reference's experts (k=%lld), max relative weight error %.3g\n",
              preset.c_str(), static_cast<long long>(same_sets), static_cast<long long>(checked),
              static_cast<long long>(trace[0].k), max_rel);
  EXPECT_LE(max_rel, 1e-4);
  fs::remove_all(dir);
}

TEST(MlaRouting, DeepseekV2LiteEqualsPyTorch) {
  check_mla_routing("deepseek-v2-lite", {"hidden_size=64", "num_attention_heads=2", "num_key_value_heads=2",
                                         "intermediate_size=128", "moe_intermediate_size=32", "n_routed_experts=8",
                                         "num_experts_per_tok=2"});
}

TEST(MlaRouting, DeepseekV3GroupLimitedSigmoidEqualsPyTorch) {
  check_mla_routing("deepseek-v3", {"hidden_size=64", "num_attention_heads=2", "num_key_value_heads=2",
                                    "intermediate_size=128", "moe_intermediate_size=32", "n_routed_experts=16",
                                    "n_group=4", "topk_group=2", "num_experts_per_tok=4", "q_lora_rank=64",
                                    "first_k_dense_replace=1"});
}

}  // namespace
}  // namespace dragon
