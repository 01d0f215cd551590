// HF output of presets whose release ships FP8 (DeepSeek-V3): config.json carries a
// quantization_config exactly when the weights are written as FP8, and the embeddings and output
// heads (including the MTP layer's copies) stay BF16 as in the real checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/hf_dir.h"
#include "synth/synth.h"
#include "test_paths.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

SynthOptions small_deepseek_v3(const std::string& dtype, const fs::path& out) {
  SynthOptions o;
  o.preset = "deepseek-v3";
  o.format = "hf";
  o.dtype = dtype;
  o.layers = 2;  // layer 2 is the MTP layer (num_nextn_predict_layers = 1)
  o.sets = {"hidden_size=128", "num_attention_heads=2", "num_key_value_heads=2", "intermediate_size=256",
            "moe_intermediate_size=128", "n_routed_experts=4", "n_group=2", "topk_group=1", "num_experts_per_tok=2",
            "q_lora_rank=128", "kv_lora_rank=128", "first_k_dense_replace=1"};
  o.out = out.string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  return o;
}

nlohmann::json read_config(const fs::path& dir) {
  std::ifstream in(dir / "config.json");
  return nlohmann::json::parse(in);
}

TEST(SynthHfFp8, QuantizationConfigOnlyForFp8Weights) {
  const fs::path dir = fs::temp_directory_path() / ("dragon_synth_fp8_" + std::to_string(::getpid()));
  synthesize(small_deepseek_v3("bf16", dir / "bf16"));
  EXPECT_FALSE(read_config(dir / "bf16").contains("quantization_config"))
      << "a BF16 checkpoint must not claim FP8 weights";

  synthesize(small_deepseek_v3("fp8", dir / "fp8"));
  const auto config = read_config(dir / "fp8");
  ASSERT_TRUE(config.contains("quantization_config"));
  EXPECT_EQ(config["quantization_config"]["quant_method"], "fp8");

  auto hf = HFDirectory::open((dir / "fp8").string());
  size_t fp8 = 0, bf16_heads = 0;
  for (const auto& [name, t] : hf->tensors()) {
    const bool head = name.ends_with("embed_tokens.weight") || name == "lm_head.weight" ||
                      name.ends_with("shared_head.head.weight");
    if (head) {
      EXPECT_EQ(t.dtype, DType::BF16) << name;
      ++bf16_heads;
    }
    if (t.dtype == DType::F8_E4M3) {
      ++fp8;
      EXPECT_NE(hf->find_tensor(name + "_scale_inv"), nullptr) << name << " has no scale";
    }
  }
  std::printf("deepseek-v3 fp8 synth: %zu FP8 weights, %zu BF16 embeddings/heads\n", fp8, bf16_heads);
  EXPECT_GT(fp8, 10u);
  EXPECT_GE(bf16_heads, 4u);  // embed, lm_head, and the MTP layer's embed + shared head
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dragon
