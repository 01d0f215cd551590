// Bytes of weights one generated token reads (runtime/bench.h): dense files read every matrix
// once and one embedding row; tied embeddings are read whole (they are the output head); MoE
// files read only n_experts_used / n_experts of their routed-expert tensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "models/model_file.h"
#include "runtime/bench.h"
#include "synth/synth.h"
#include "test_paths.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

OpenedModel synth_small(const std::string& preset, const std::vector<std::string>& sets, const std::string& name) {
  SynthOptions o;
  o.preset = preset;
  o.dtype = "f32";
  o.layers = 2;
  o.seed = 3;
  o.sets = sets;
  o.out = (fs::temp_directory_path() / ("dragon_bench_" + std::to_string(getpid()) + "_" + name + ".gguf")).string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  synthesize(o);
  OpenedModel m = open_model(o.out);
  fs::remove(o.out);  // the map stays valid after unlink
  return m;
}

uint64_t bytes_named(const OpenedModel& m, bool (*pick)(const std::string&)) {
  uint64_t n = 0;
  for (const TensorView& t : m.tensors)
    if (pick(t.name)) n += t.nbytes;
  return n;
}

TEST(BenchTraffic, DenseUntiedReadsOneEmbeddingRow) {
  const OpenedModel m = synth_small("qwen3-8b", {"hidden_size=128", "intermediate_size=256", "num_attention_heads=4",
                                                 "num_key_value_heads=1"}, "dense");
  ASSERT_NE(m.find_tensor("output.weight"), nullptr) << "qwen3-8b has an untied output head";
  const WeightTraffic t = weight_traffic(m);
  const TensorView* embd = m.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  const uint64_t expected = t.total_bytes - embd->nbytes + embd->nbytes / embd->shape[0];
  std::printf("  dense: %llu of %llu bytes per token\n", static_cast<unsigned long long>(t.per_token_bytes),
              static_cast<unsigned long long>(t.total_bytes));
  EXPECT_EQ(t.per_token_bytes, expected);
  EXPECT_EQ(t.expert_bytes, 0u);
}

TEST(BenchTraffic, TiedEmbeddingIsReadWhole) {
  const OpenedModel m = synth_small("qwen3-0.6b", {"hidden_size=64", "intermediate_size=128", "num_attention_heads=4",
                                                   "num_key_value_heads=2", "head_dim=32"}, "tied");
  ASSERT_EQ(m.find_tensor("output.weight"), nullptr);
  const WeightTraffic t = weight_traffic(m);
  EXPECT_EQ(t.per_token_bytes, t.total_bytes);
}

TEST(BenchTraffic, MoeReadsOnlyTheActiveExpertShare) {
  const OpenedModel m = synth_small("qwen3-30b-a3b", {"hidden_size=64", "num_attention_heads=8", "num_key_value_heads=1",
                                                      "intermediate_size=128", "moe_intermediate_size=32",
                                                      "num_experts=8", "num_experts_per_tok=2"}, "moe");
  const WeightTraffic t = weight_traffic(m);
  const uint64_t experts = bytes_named(m, [](const std::string& n) { return n.find("_exps.") != std::string::npos; });
  ASSERT_GT(experts, 0u);
  EXPECT_EQ(t.expert_bytes, experts);
  const TensorView* embd = m.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  const bool tied = m.find_tensor("output.weight") == nullptr;
  const uint64_t embd_read = tied ? embd->nbytes : embd->nbytes / embd->shape[0];
  const double expected = static_cast<double>(t.total_bytes - experts - embd->nbytes + embd_read) + experts * 2.0 / 8.0;
  std::printf("  moe: %llu of %llu bytes per token (experts %llu, 2 of 8 active)\n",
              static_cast<unsigned long long>(t.per_token_bytes), static_cast<unsigned long long>(t.total_bytes),
              static_cast<unsigned long long>(experts));
  EXPECT_NEAR(static_cast<double>(t.per_token_bytes), expected, 1.0);
}

}  // namespace
}  // namespace dragon
