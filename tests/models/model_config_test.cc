// Config readers: the real preset configs, the rope_scaling spellings, and hostile config.json
// values that must be rejected with the key named.
#include <gtest/gtest.h>

#include <cstdio>

#include "models/arch.h"
#include "models/arch_common.h"
#include "synth/preset.h"
#include "util/error.h"

namespace dragon {
namespace {

using json = nlohmann::json;

json preset_config(const char* name) {
  const Preset* p = find_preset(name);
  if (!p) throw std::runtime_error(std::string("no preset ") + name);
  return json::parse(p->config_json);
}

// The error message config_from_hf gives for `hf` ("" if it parses).
std::string error_of(const json& hf) {
  try {
    config_from_hf(hf);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfigHF, Qwen3_0_6B) {
  const ModelConfig c = config_from_hf(preset_config("qwen3-0.6b"));
  EXPECT_EQ(c.arch, "qwen3");
  EXPECT_EQ(c.hf_architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.n_layers, 28);
  EXPECT_EQ(c.n_heads, 16);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);  // explicit: 16 x 128 = 2048 != hidden_size
  EXPECT_EQ(c.v_head_dim, 128);
  EXPECT_EQ(c.rotary_dim, 128);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.context_length, 40960);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.rope_scaling.type, "none");
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_id, 151645);
  EXPECT_FALSE(c.is_moe());
}

TEST(ModelConfigHF, Qwen3_8B) {
  const ModelConfig c = config_from_hf(preset_config("qwen3-8b"));
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.n_layers, 36);
  EXPECT_EQ(c.n_heads, 32);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.intermediate_size, 12288);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(ModelConfigHF, EveryPresetParses) {
  for (const Preset& p : all_presets()) {
    SCOPED_TRACE(p.name);
    const ModelConfig c = config_from_hf(json::parse(p.config_json));
    EXPECT_FALSE(c.arch.empty());
    EXPECT_NE(find_arch_by_gguf(c.arch), nullptr);
    if (!p.generation_config_json.empty()) {
      EXPECT_TRUE(json::accept(p.generation_config_json));
    }
  }
}

TEST(ModelConfigHF, DefaultsForMissingOptionalKeys) {
  json hf = preset_config("qwen3-0.6b");
  hf.erase("num_key_value_heads");
  hf.erase("head_dim");
  hf["tie_word_embeddings"] = nullptr;
  const ModelConfig c = config_from_hf(hf);
  EXPECT_EQ(c.n_kv_heads, c.n_heads);
  EXPECT_EQ(c.head_dim, 1024 / 16);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(ModelConfigHF, EosListTakesFirstAndKeepsSource) {
  json hf = preset_config("qwen3-0.6b");
  hf["eos_token_id"] = {151645, 151643};
  const ModelConfig c = config_from_hf(hf);
  EXPECT_EQ(c.eos_token_id, 151645);
  EXPECT_EQ(c.source["eos_token_id"].size(), 2u);
}

TEST(ModelConfigHF, RopeYarnNewSpelling) {
  json hf = preset_config("qwen3-8b");
  hf["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  const ModelConfig c = config_from_hf(hf);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_context_length, 32768);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_slow, 1.0);
}

TEST(ModelConfigHF, RopeYarnDeepSeekSpellingWithMscale) {
  json hf = preset_config("qwen3-8b");
  hf["rope_scaling"] = {{"type", "yarn"},       {"factor", 40},         {"beta_fast", 32},
                        {"beta_slow", 1},       {"mscale", 1.0},        {"mscale_all_dim", 0.707},
                        {"original_max_position_embeddings", 4096}};
  const ModelConfig c = config_from_hf(hf);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 0.707);
  EXPECT_EQ(c.rope_scaling.original_context_length, 4096);
}

TEST(ModelConfigHF, RopeLinearLlama3AndDefault) {
  json hf = preset_config("qwen3-8b");
  hf["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_EQ(config_from_hf(hf).rope_scaling.type, "linear");
  hf["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                        {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const ModelConfig c = config_from_hf(hf);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  hf["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(config_from_hf(hf).rope_scaling.type, "none");
}

TEST(ModelConfigHF, PartialRotary) {
  json hf = preset_config("qwen3-8b");
  hf["partial_rotary_factor"] = 0.5;
  EXPECT_EQ(config_from_hf(hf).rotary_dim, 64);
}

struct BadCase {
  const char* what;
  std::function<void(json&)> edit;
  const char* expected_in_message;
};

TEST(ModelConfigHF, HostileValuesAreRejectedNamingTheKey) {
  const std::vector<BadCase> cases = {
      {"huge vocab", [](json& j) { j["vocab_size"] = 1'000'000'000'000LL; }, "vocab_size"},
      {"negative hidden", [](json& j) { j["hidden_size"] = -4; }, "hidden_size"},
      {"too many layers", [](json& j) { j["num_hidden_layers"] = 5000; }, "num_hidden_layers"},
      {"zero heads", [](json& j) { j["num_attention_heads"] = 0; }, "num_attention_heads"},
      {"kv heads do not divide", [](json& j) { j["num_key_value_heads"] = 5; }, "num_key_value_heads"},
      {"kv heads above heads", [](json& j) { j["num_key_value_heads"] = 32; }, "num_key_value_heads"},
      {"string size", [](json& j) { j["hidden_size"] = "1024"; }, "hidden_size"},
      {"fractional size", [](json& j) { j["intermediate_size"] = 3072.5; }, "intermediate_size"},
      {"huge ffn", [](json& j) { j["intermediate_size"] = 1LL << 40; }, "intermediate_size"},
      {"huge head_dim", [](json& j) { j["head_dim"] = 1 << 20; }, "head_dim"},
      {"missing vocab", [](json& j) { j.erase("vocab_size"); }, "vocab_size"},
      {"missing context", [](json& j) { j.erase("max_position_embeddings"); }, "max_position_embeddings"},
      {"unknown arch", [](json& j) { j["architectures"] = {"FooForCausalLM"}; }, "FooForCausalLM"},
      {"no architectures", [](json& j) { j.erase("architectures"); }, "architectures"},
      {"architectures not a list", [](json& j) { j["architectures"] = 7; }, "architectures"},
      {"bad eps", [](json& j) { j["rms_norm_eps"] = -1.0; }, "rms_norm_eps"},
      {"bad theta", [](json& j) { j["rope_theta"] = 0; }, "rope_theta"},
      {"bool as int", [](json& j) { j["tie_word_embeddings"] = 1; }, "tie_word_embeddings"},
      {"eos out of vocab", [](json& j) { j["eos_token_id"] = 999999; }, "eos_token_id"},
      {"unknown rope type", [](json& j) { j["rope_scaling"] = {{"rope_type", "wobbly"}}; }, "rope_type"},
      {"yarn without original", [](json& j) { j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4}}; },
       "original_max_position_embeddings"},
      {"rope_scaling not object", [](json& j) { j["rope_scaling"] = "yarn"; }, "rope_scaling"},
  };
  for (const BadCase& bad : cases) {
    json hf = preset_config("qwen3-0.6b");
    bad.edit(hf);
    const std::string message = error_of(hf);
    EXPECT_NE(message.find(bad.expected_in_message), std::string::npos)
        << bad.what << ": message \"" << message << "\" lacks \"" << bad.expected_in_message << "\"";
    std::printf("  %-26s -> %s\n", bad.what, message.c_str());
  }
}

TEST(ModelConfig, ToJsonHasTheShape) {
  const json j = config_to_json(config_from_hf(preset_config("qwen3-0.6b")));
  EXPECT_EQ(j["arch"], "qwen3");
  EXPECT_EQ(j["head_dim"], 128);
  EXPECT_EQ(j["rope_scaling"]["type"], "none");
  EXPECT_FALSE(j.contains("moe"));
}

TEST(ArchCommon, PermuteQkRowsInterleavesHalvesPerHead) {
  // 2 heads of 4 rows, 1 column: HF rows (per head) [a0 a1 b0 b1] -> GGUF [a0 b0 a1 b1].
  const std::vector<float> hf = {0, 1, 2, 3, 10, 11, 12, 13};
  const std::vector<float> gguf = arch::permute_qk_rows(hf, 8, 1, 2);
  EXPECT_EQ(gguf, (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));
  // Rows move whole: 2 columns.
  const std::vector<float> hf2 = {0, 0, 1, 1, 2, 2, 3, 3};
  EXPECT_EQ(arch::permute_qk_rows(hf2, 4, 2, 1), (std::vector<float>{0, 0, 2, 2, 1, 1, 3, 3}));
  EXPECT_THROW(arch::permute_qk_rows(hf, 8, 1, 3), Error);
}

TEST(ArchCommon, StackSources) {
  const std::vector<float> a = {1, 2}, b = {3, 4};
  EXPECT_EQ(arch::stack_sources({&a, &b}), (std::vector<float>{1, 2, 3, 4}));
  const GGUFTensorPlan p = arch::plan_stacked("blk.0.ffn_up_exps.weight", {"x", "y"}, 1, 2);
  EXPECT_EQ(p.shape, (std::vector<int64_t>{2, 1, 2}));
}

TEST(ArchQwen3, TensorListsMatchEachOther) {
  ModelConfig c = config_from_hf(preset_config("qwen3-0.6b"));
  const ArchSpec* spec = find_arch_by_gguf("qwen3");
  ASSERT_NE(spec, nullptr);
  const auto hf = spec->hf_tensors(c);
  const auto gguf = spec->gguf_tensors(c);
  // Tied: no lm_head / output.weight. Per layer 11 tensors, plus embedding and final norm.
  EXPECT_EQ(hf.size(), 28u * 11 + 2);
  EXPECT_EQ(gguf.size(), hf.size());
  bool saw_q = false;
  for (const auto& p : gguf)
    if (p.name == "blk.0.attn_q.weight") {
      saw_q = true;
      EXPECT_EQ(p.shape, (std::vector<int64_t>{2048, 1024}));
      EXPECT_EQ(p.sources.front(), "model.layers.0.self_attn.q_proj.weight");
    }
  EXPECT_TRUE(saw_q);
  c.tie_word_embeddings = false;
  EXPECT_EQ(spec->gguf_tensors(c).back().name, "output.weight");
}

}  // namespace
}  // namespace dragon
