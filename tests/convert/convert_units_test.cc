// Units of dragon convert: the k-quant type mix (llama.cpp's rules on a hand-made tensor list)
// and the pre-tokenizer detection from tokenizer.json (the real Qwen3 and DeepSeek-V3 files).
#include <gtest/gtest.h>

#include <fstream>

#include "convert/gguf_tokenizer.h"
#include "convert/tensor_type_mix.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon {
namespace {

GGUFTensorPlan plan(const std::string& name, std::vector<int64_t> shape, bool quantizable = true) {
  GGUFTensorPlan p;
  p.name = name;
  p.shape = std::move(shape);
  p.quantizable = quantizable;
  return p;
}

// A dense model of `layers` layers, in llama.cpp's tensor order.
std::vector<GGUFTensorPlan> dense_plans(int layers, int64_t hidden, bool tied) {
  std::vector<GGUFTensorPlan> plans{plan("token_embd.weight", {1000, hidden})};
  for (int i = 0; i < layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    plans.push_back(plan(b + "attn_norm.weight", {hidden}, false));
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"})
      plans.push_back(plan(b + t + ".weight", {hidden, hidden}));
    plans.push_back(plan(b + "ffn_down.weight", {hidden, 2 * hidden}));
  }
  plans.push_back(plan("output_norm.weight", {hidden}, false));
  if (!tied) plans.push_back(plan("output.weight", {1000, hidden}));
  return plans;
}

DType type_of(const std::vector<GGUFTensorPlan>& plans, const std::vector<DType>& types, const std::string& name) {
  for (size_t i = 0; i < plans.size(); ++i)
    if (plans[i].name == name) return types[i];
  ADD_FAILURE() << "no tensor " << name;
  return DType::F32;
}

TEST(ConvertTypeMix, Q4KMFollowsLlamaCppUseMoreBits) {
  const auto plans = dense_plans(16, 256, false);
  const auto types = convert_tensor_types(parse_convert_type("q4_k_m"), plans, 0);
  // use_more_bits(i, 16): i < 2, i >= 14, or (i - 2) % 3 == 2.
  for (int i = 0; i < 16; ++i) {
    const bool more = i < 2 || i >= 14 || (i - 2) % 3 == 2;
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(type_of(plans, types, b + "attn_v.weight"), more ? DType::Q6_K : DType::Q4_K) << i;
    EXPECT_EQ(type_of(plans, types, b + "ffn_down.weight"), more ? DType::Q6_K : DType::Q4_K) << i;
    EXPECT_EQ(type_of(plans, types, b + "attn_q.weight"), DType::Q4_K);
    EXPECT_EQ(type_of(plans, types, b + "attn_norm.weight"), DType::F32);
  }
  EXPECT_EQ(type_of(plans, types, "output.weight"), DType::Q6_K);
  EXPECT_EQ(type_of(plans, types, "token_embd.weight"), DType::Q4_K);  // not tied: the base type
}

TEST(ConvertTypeMix, TiedEmbeddingsAndFallbacks) {
  const auto tied = dense_plans(2, 256, true);
  EXPECT_EQ(type_of(tied, convert_tensor_types(parse_convert_type("q4_k_m"), tied, 0), "token_embd.weight"), DType::Q6_K);
  // Rows of 96: not a multiple of 256 -> Q4_K falls back to Q5_0, Q6_K to Q8_0; the head to Q8_0.
  const auto narrow = dense_plans(2, 96, false);
  const auto types = convert_tensor_types(parse_convert_type("q4_k_m"), narrow, 0);
  EXPECT_EQ(type_of(narrow, types, "blk.0.attn_q.weight"), DType::Q5_0);
  EXPECT_EQ(type_of(narrow, types, "blk.1.attn_v.weight"), DType::Q8_0);
  EXPECT_EQ(type_of(narrow, types, "output.weight"), DType::Q8_0);
  // Rows of 40: no 32-block type fits -> F16.
  const auto odd = dense_plans(1, 40, false);
  EXPECT_EQ(type_of(odd, convert_tensor_types(parse_convert_type("q8_0"), odd, 0), "blk.0.attn_q.weight"), DType::F16);
}

TEST(ConvertTypeMix, PlainTypesAndUnknownName) {
  const auto plans = dense_plans(2, 64, false);
  const auto types = convert_tensor_types(parse_convert_type("bf16"), plans, 0);
  EXPECT_EQ(type_of(plans, types, "blk.1.ffn_down.weight"), DType::BF16);
  EXPECT_EQ(type_of(plans, types, "output_norm.weight"), DType::F32);
  EXPECT_THROW(parse_convert_type("q3_k_xl"), Error);
}

nlohmann::json read_tokenizer_json(const std::string& name) {
  std::ifstream in(test::tokenizers_dir() / name / "tokenizer.json");
  return nlohmann::json::parse(in);
}

TEST(ConvertTokenizer, DetectsThePreTokenizerOfRealTokenizers) {
  EXPECT_EQ(detect_pre_tokenizer(read_tokenizer_json("qwen3"), "qwen3"), "qwen2");
  EXPECT_EQ(detect_pre_tokenizer(read_tokenizer_json("deepseek-v3"), "deepseek2"), "deepseek-v3");
  // The same split regexes, another family's name: the architecture's own name wins.
  EXPECT_EQ(detect_pre_tokenizer(read_tokenizer_json("qwen3"), "hunyuan-moe"), "hunyuan");
  nlohmann::json metaspace = {{"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\u2581"}}}};
  EXPECT_THROW(detect_pre_tokenizer(metaspace, "llama"), Error);
}

}  // namespace
}  // namespace dragon
