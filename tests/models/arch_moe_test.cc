// The MoE / MLA families (arch_qwen3moe, arch_deepseek, arch_deepseek2, arch_glm4moe,
// arch_minimax_m2, arch_ernie4_5_moe, arch_hunyuan_moe, arch_hy_v3):
//  - each release's config.json reads into the ModelConfig its model card describes;
//  - the HF and GGUF tensor lists have the names and shapes llama.cpp / the HF code expect;
//  - the two transforms (expert stacking, kv_b_proj split) on hand-checked examples;
//  - a synthetic GGUF's metadata reads back into the config it was written from;
//  - synthetic routers spread tokens over the experts, and DeepSeek-V3's correction bias moves
//    some (not most) choices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/arch_moe.h"
#include "synth/preset.h"
#include "synth/random.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon {
namespace {

using json = nlohmann::json;

ModelConfig preset_config(const std::string& name) {
  const Preset* p = find_preset(name);
  if (!p) throw Error("no preset " + name);
  return config_from_hf(json::parse(p->config_json));
}

// The preset's config with --set style overrides and --layers applied, as `dragon synth` does.
ModelConfig small_config(const std::string& preset, const std::vector<std::string>& sets, int64_t layers) {
  SynthOptions o;
  o.preset = preset;
  o.sets = sets;
  o.layers = layers;
  return plan_synth(o).config;
}

std::map<std::string, std::vector<int64_t>> hf_shapes(const ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> m;
  for (const HFTensorSpec& s : find_arch_by_gguf(c.arch)->hf_tensors(c)) m[s.name] = s.shape;
  return m;
}

std::map<std::string, GGUFTensorPlan> gguf_plans(const ModelConfig& c) {
  std::map<std::string, GGUFTensorPlan> m;
  for (GGUFTensorPlan& p : find_arch_by_gguf(c.arch)->gguf_tensors(c)) m[p.name] = std::move(p);
  return m;
}

using Shape = std::vector<int64_t>;

// ---------------------------------------------------------------------------------------------
// Real configs

TEST(ArchMoeConfig, Qwen3_30B_A3B) {
  const ModelConfig c = preset_config("qwen3-30b-a3b");
  EXPECT_EQ(c.arch, "qwen3moe");
  EXPECT_EQ(c.n_layers, 48);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.n_experts, 128);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.moe_intermediate_size, 768);
  EXPECT_EQ(c.n_shared_experts, 0);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.scoring_func, "softmax");
  EXPECT_TRUE(c.layer_is_moe(0));
}

TEST(ArchMoeConfig, DeepSeekMoE16B) {
  const ModelConfig c = preset_config("deepseek-moe-16b");
  EXPECT_EQ(c.arch, "deepseek");
  EXPECT_EQ(c.vocab_size, 102400);
  EXPECT_EQ(c.n_layers, 28);
  EXPECT_EQ(c.n_experts, 64);
  EXPECT_EQ(c.n_experts_used, 6);
  EXPECT_EQ(c.n_shared_experts, 2);
  EXPECT_EQ(c.moe_intermediate_size, 1408);
  EXPECT_EQ(c.shared_expert_intermediate_size, 2816);
  EXPECT_EQ(c.intermediate_size, 10944);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_FALSE(c.rope_interleaved);  // HF rows; the GGUF's are permuted
  EXPECT_FALSE(c.layer_is_moe(0));
  EXPECT_TRUE(c.layer_is_moe(1));
}

TEST(ArchMoeConfig, DeepSeekV2Lite) {
  const ModelConfig c = preset_config("deepseek-v2-lite");
  EXPECT_EQ(c.arch, "deepseek2");
  EXPECT_EQ(c.n_layers, 27);
  EXPECT_EQ(c.q_lora_rank, 0);  // null: a plain q_proj
  EXPECT_EQ(c.kv_lora_rank, 512);
  EXPECT_EQ(c.qk_nope_head_dim, 128);
  EXPECT_EQ(c.qk_rope_head_dim, 64);
  EXPECT_EQ(c.head_dim, 192);
  EXPECT_EQ(c.v_head_dim, 128);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_TRUE(c.rope_interleaved);
  EXPECT_EQ(c.n_experts, 64);
  EXPECT_EQ(c.n_experts_used, 6);
  EXPECT_EQ(c.n_shared_experts, 2);
  EXPECT_EQ(c.n_group, 1);
  EXPECT_EQ(c.topk_group, 1);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.0);
  EXPECT_EQ(c.scoring_func, "softmax");
  EXPECT_FALSE(c.expert_score_bias);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 0.707);
  EXPECT_EQ(c.rope_scaling.original_context_length, 4096);
  EXPECT_EQ(c.n_nextn_layers, 0);
}

TEST(ArchMoeConfig, DeepSeekV3) {
  const ModelConfig c = preset_config("deepseek-v3");
  EXPECT_EQ(c.arch, "deepseek2");
  EXPECT_EQ(c.hf_architecture, "DeepseekV3ForCausalLM");
  EXPECT_EQ(c.n_layers, 61);
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.n_heads, 128);
  EXPECT_EQ(c.q_lora_rank, 1536);
  EXPECT_EQ(c.kv_lora_rank, 512);
  EXPECT_EQ(c.n_experts, 256);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.moe_intermediate_size, 2048);
  EXPECT_EQ(c.first_k_dense_replace, 3);
  EXPECT_EQ(c.n_group, 8);
  EXPECT_EQ(c.topk_group, 4);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.expert_score_bias);  // topk_method noaux_tc
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.n_nextn_layers, 1);
  EXPECT_EQ(c.vocab_size, 129280);
  const json hf = json::parse(find_preset("deepseek-v3")->config_json);
  EXPECT_EQ(hf["quantization_config"]["weight_block_size"], json::array({128, 128}));
}

// Kimi K2's YaRN differs from DeepSeek-V3's in the betas (1, 1 instead of 32, 1) and the base; the
// HF code (DeepseekV3YarnRotaryEmbedding) takes both betas from rope_scaling.
TEST(ArchMoeConfig, KimiK2) {
  const ModelConfig c = preset_config("kimi-k2");
  EXPECT_EQ(c.arch, "deepseek2");
  EXPECT_EQ(c.n_heads, 64);
  EXPECT_EQ(c.n_experts, 384);
  EXPECT_EQ(c.n_group, 1);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.n_nextn_layers, 0);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.827);
  EXPECT_DOUBLE_EQ(c.rope_theta, 50000.0);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_fast, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_slow, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_EQ(c.rope_scaling.original_context_length, 4096);
}

TEST(ArchMoeConfig, Glm45Air) {
  const ModelConfig c = preset_config("glm-4.5-air");
  EXPECT_EQ(c.arch, "glm4moe");
  EXPECT_EQ(c.n_layers, 46);
  EXPECT_EQ(c.n_heads, 96);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rotary_dim, 64);  // partial_rotary_factor 0.5
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.n_experts, 128);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.moe_intermediate_size, 1408);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.expert_score_bias);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.n_nextn_layers, 1);
  EXPECT_EQ(c.eos_token_id, 151329);
}

TEST(ArchMoeConfig, MiniMaxM2) {
  const ModelConfig c = preset_config("minimax-m2");
  EXPECT_EQ(c.arch, "minimax-m2");
  EXPECT_EQ(c.n_layers, 62);
  EXPECT_EQ(c.hidden_size, 3072);
  EXPECT_EQ(c.n_heads, 48);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.n_experts, 256);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.expert_score_bias);
  EXPECT_EQ(c.vocab_size, 200064);
}

// MiniMax-M1: 7 lightning layers then a softmax one (attn_type_list), DeepNorm alphas with postnorm.
TEST(ArchMoeConfig, MiniMaxM1) {
  const ModelConfig c = preset_config("minimax-m1");
  EXPECT_EQ(c.arch, "minimax-01");
  EXPECT_EQ(c.n_layers, 80);
  EXPECT_EQ(c.full_attention_interval, 8);
  EXPECT_TRUE(c.layer_is_recurrent(6));
  EXPECT_FALSE(c.layer_is_recurrent(7));
  EXPECT_FALSE(c.layer_is_recurrent(79));
  EXPECT_EQ(c.recurrent_state_floats(), 64 * 128 * 128);  // one 128 x 128 state per head
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.n_experts, 32);
  EXPECT_EQ(c.n_experts_used, 2);
  EXPECT_EQ(c.moe_intermediate_size, 9216);
  EXPECT_EQ(c.scoring_func, "softmax");
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_TRUE(c.residual_from_norm);
  EXPECT_NEAR(c.residual_alpha_linear, 3.5565588200778455, 1e-12);
  EXPECT_NEAR(c.residual_alpha_full, 3.5565588200778455, 1e-12);
  EXPECT_EQ(c.residual_beta_mlp, 1.0);
}

TEST(ArchMoeConfig, Ernie45_21B_A3B) {
  const ModelConfig c = preset_config("ernie-4.5-21b-a3b");
  EXPECT_EQ(c.arch, "ernie4_5-moe");
  EXPECT_EQ(c.n_layers, 28);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_experts, 64);
  EXPECT_EQ(c.n_experts_used, 6);
  EXPECT_EQ(c.n_shared_experts, 2);
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.shared_expert_intermediate_size, 3072);  // = 12288 / 4 kv heads, as the converter writes
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_TRUE(c.expert_score_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.rope_interleaved);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
}

TEST(ArchMoeConfig, HunyuanA13B) {
  const ModelConfig c = preset_config("hunyuan-a13b");
  EXPECT_EQ(c.arch, "hunyuan-moe");
  EXPECT_EQ(c.n_layers, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_experts, 64);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.moe_intermediate_size, 3072);
  EXPECT_EQ(c.shared_expert_intermediate_size, 3072);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  // NTK alpha 1000 folded into the base: 10000 * 1000^(128/126), as conversion/hunyuan.py.
  const double expected = 10000.0 * std::pow(1000.0, 128.0 / 126.0);
  std::printf("hunyuan scaled rope base %.4f (expected %.4f)\n", c.rope_theta, expected);
  EXPECT_NEAR(c.rope_theta, expected, 1e-3);
  EXPECT_NEAR(c.rope_theta, 11158839.9251, 1e-2);
  EXPECT_EQ(c.rope_scaling.type, "none");
}

TEST(ArchMoeConfig, Hy3Preview) {
  const ModelConfig c = preset_config("hy3-preview");
  EXPECT_EQ(c.arch, "hy_v3");
  EXPECT_EQ(c.n_layers, 80);
  EXPECT_EQ(c.n_nextn_layers, 1);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_experts, 192);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.shared_expert_intermediate_size, 1536);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.expert_score_bias);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_NEAR(c.routed_scaling_factor, 2.826, 1e-9);
  EXPECT_NEAR(c.rope_theta, 11158840.0, 1e-3);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.rope_interleaved);
  // transformers' mlp_layer_types spelling of the same layout; a dense layer after a sparse one is refused.
  json hf = json::parse(find_preset("hy3-preview")->config_json);
  hf["num_hidden_layers"] = 3;
  hf.erase("first_k_dense_replace");
  hf["mlp_layer_types"] = {"dense", "dense", "sparse"};
  EXPECT_EQ(config_from_hf(hf).first_k_dense_replace, 2);
  hf["mlp_layer_types"] = {"dense", "sparse", "dense"};
  try {
    config_from_hf(hf);
    ADD_FAILURE() << "a dense layer after a sparse one was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mlp_layer_types[2]"), std::string::npos) << e.what();
  }
}

TEST(ArchMoeConfig, RefusesWhatLlamaCppCannotLoad) {
  auto message = [](const std::string& preset, const std::vector<std::string>& sets) -> std::string {
    try {
      small_config(preset, sets, 0);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message("hunyuan-a13b", {"moe_topk=[8,4]"}).find("moe_topk"), std::string::npos);
  EXPECT_NE(message("qwen3-30b-a3b", {"mlp_only_layers=[3]"}).find("mlp_only_layers"), std::string::npos);
  EXPECT_NE(message("ernie-4.5-21b-a3b", {"moe_layer_interval=2"}).find("moe_layer_interval"), std::string::npos);
  EXPECT_NE(message("ernie-4.5-21b-a3b", {"moe_layer_end_index=10"}).find("moe_layer_end_index"), std::string::npos);
  EXPECT_NE(message("hunyuan-a13b", {"use_cla=true"}).find("use_cla"), std::string::npos);
  EXPECT_NE(message("hunyuan-a13b", {"intermediate_size=1024"}).find("intermediate_size"), std::string::npos);
  EXPECT_NE(message("deepseek-v3", {"scoring_func=\"tanh\""}).find("scoring_func"), std::string::npos);
  EXPECT_NE(message("hy3-preview", {"qk_norm=false"}).find("qk_norm"), std::string::npos);
  EXPECT_NE(message("hy3-preview", {"attention_bias=true"}).find("attention_bias"), std::string::npos);
  // DeepSeek-V3 with 16 experts in 8 groups: validate_config still holds (groups divide experts).
  EXPECT_EQ(message("deepseek-v3", {"n_routed_experts=16"}), "");
  EXPECT_NE(message("deepseek-v3", {"n_routed_experts=12"}).find("n_group"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Tensor lists

TEST(ArchMoeTensors, Qwen3MoeStacksEveryLayersExperts) {
  const ModelConfig c = small_config("qwen3-30b-a3b",
                                     {"hidden_size=64", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=16",
                                      "moe_intermediate_size=32", "num_experts=8", "num_experts_per_tok=2"},
                                     2);
  const auto hf = hf_shapes(c);
  const auto gg = gguf_plans(c);
  // embed + 2 x (norm, q, k, v, o, q_norm, k_norm, norm, router, 8 x 3 experts) + norm + head
  EXPECT_EQ(hf.size(), 1u + 2u * (8u + 1u + 24u) + 2u);
  // token_embd + 2 x (attn 8 + router + 3 stacked) + output_norm + output
  EXPECT_EQ(gg.size(), 1u + 2u * (8u + 1u + 3u) + 2u);
  EXPECT_EQ(hf.at("model.layers.1.mlp.experts.7.down_proj.weight"), (Shape{64, 32}));
  EXPECT_EQ(gg.at("blk.1.ffn_gate_exps.weight").shape, (Shape{8, 32, 64}));
  EXPECT_EQ(gg.at("blk.1.ffn_up_exps.weight").shape, (Shape{8, 32, 64}));
  EXPECT_EQ(gg.at("blk.1.ffn_down_exps.weight").shape, (Shape{8, 64, 32}));
  EXPECT_EQ(gg.at("blk.1.ffn_gate_inp.weight").shape, (Shape{8, 64}));
  EXPECT_FALSE(gg.at("blk.1.ffn_gate_inp.weight").quantizable);
  EXPECT_EQ(gg.at("blk.0.ffn_down_exps.weight").sources.at(3), "model.layers.0.mlp.experts.3.down_proj.weight");
}

TEST(ArchMoeTensors, DeepSeekV3MlaSplitAndDroppedMtp) {
  const ModelConfig c = small_config(
      "deepseek-v3",
      {"hidden_size=64", "num_attention_heads=4", "num_key_value_heads=4", "intermediate_size=128",
       "moe_intermediate_size=32", "n_routed_experts=16", "n_group=4", "topk_group=2", "num_experts_per_tok=4",
       "q_lora_rank=48", "kv_lora_rank=32", "qk_nope_head_dim=16", "qk_rope_head_dim=8", "v_head_dim=16",
       "first_k_dense_replace=1"},
      2);
  const auto hf = hf_shapes(c);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(hf.at("model.layers.0.self_attn.kv_b_proj.weight"), (Shape{4 * (16 + 16), 32}));
  EXPECT_EQ(hf.at("model.layers.0.self_attn.q_b_proj.weight"), (Shape{4 * 24, 48}));
  EXPECT_EQ(hf.at("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"), (Shape{32 + 8, 64}));
  EXPECT_EQ(hf.at("model.layers.1.mlp.gate.e_score_correction_bias"), (Shape{16}));
  EXPECT_EQ(hf.at("model.layers.1.mlp.shared_experts.up_proj.weight"), (Shape{32, 64}));
  // The MTP layer (index n_layers) exists in HF with its extras, and is dropped from the GGUF.
  EXPECT_EQ(hf.at("model.layers.2.eh_proj.weight"), (Shape{64, 128}));
  EXPECT_TRUE(hf.count("model.layers.2.mlp.experts.15.up_proj.weight"));
  EXPECT_TRUE(hf.count("model.layers.2.shared_head.head.weight"));
  for (const auto& [name, plan] : gg) EXPECT_EQ(name.rfind("blk.2.", 0), std::string::npos) << name;

  EXPECT_EQ(gg.at("blk.0.attn_k_b.weight").shape, (Shape{4, 32, 16}));  // ggml ne {nope, kv_lora, heads}
  EXPECT_EQ(gg.at("blk.0.attn_v_b.weight").shape, (Shape{4, 16, 32}));  // ggml ne {kv_lora, v, heads}
  EXPECT_FALSE(gg.count("blk.0.attn_kv_b.weight"));
  EXPECT_EQ(gg.at("blk.0.attn_q_a.weight").shape, (Shape{48, 64}));
  EXPECT_EQ(gg.at("blk.0.ffn_gate.weight").shape, (Shape{128, 64}));  // dense layer 0
  EXPECT_FALSE(gg.count("blk.0.ffn_gate_inp.weight"));
  EXPECT_EQ(gg.at("blk.1.exp_probs_b.bias").shape, (Shape{16}));
  EXPECT_EQ(gg.at("blk.1.ffn_down_shexp.weight").shape, (Shape{64, 32}));
}

TEST(ArchMoeTensors, DeepSeekV2LiteHasPlainQ) {
  const ModelConfig c = small_config("deepseek-v2-lite", {"n_routed_experts=4", "num_experts_per_tok=2"}, 2);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(gg.at("blk.0.attn_q.weight").shape, (Shape{16 * 192, 2048}));
  EXPECT_FALSE(gg.count("blk.0.attn_q_a.weight"));
  EXPECT_FALSE(gg.count("blk.1.exp_probs_b.bias"));  // greedy softmax routing, no bias
  EXPECT_EQ(gg.at("blk.1.ffn_gate_exps.weight").shape, (Shape{4, 1408, 2048}));
  EXPECT_EQ(gg.at("blk.1.ffn_gate_shexp.weight").shape, (Shape{2816, 2048}));
}

TEST(ArchMoeTensors, Glm45AirKeepsMtpAndPostAttentionNorm) {
  const ModelConfig c = small_config("glm-4.5-air", {"n_routed_experts=4", "num_experts_per_tok=2"}, 2);
  const auto hf = hf_shapes(c);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(hf.at("model.layers.0.self_attn.q_proj.bias"), (Shape{96 * 128}));
  EXPECT_FALSE(hf.count("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_TRUE(gg.count("blk.0.post_attention_norm.weight"));
  EXPECT_FALSE(gg.count("blk.0.ffn_norm.weight"));
  EXPECT_EQ(gg.at("blk.2.nextn.eh_proj.weight").shape, (Shape{4096, 8192}));
  EXPECT_TRUE(gg.count("blk.2.nextn.shared_head_head.weight"));
  EXPECT_EQ(gg.at("blk.2.ffn_gate_exps.weight").shape, (Shape{4, 1408, 4096}));
  EXPECT_EQ(gg.at("blk.1.exp_probs_b.bias").shape, (Shape{4}));
}

TEST(ArchMoeTensors, MiniMaxM2WholeProjectionNorms) {
  const ModelConfig c = small_config("minimax-m2", {"num_local_experts=4", "num_experts_per_tok=2"}, 1);
  const auto hf = hf_shapes(c);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(hf.at("model.layers.0.self_attn.q_norm.weight"), (Shape{48 * 128}));
  EXPECT_EQ(hf.at("model.layers.0.self_attn.k_norm.weight"), (Shape{8 * 128}));
  EXPECT_EQ(hf.at("model.layers.0.block_sparse_moe.experts.3.w2.weight"), (Shape{3072, 1536}));
  EXPECT_EQ(gg.at("blk.0.ffn_down_exps.weight").sources.at(3), "model.layers.0.block_sparse_moe.experts.3.w2.weight");
  EXPECT_EQ(gg.at("blk.0.ffn_up_exps.weight").sources.at(0), "model.layers.0.block_sparse_moe.experts.0.w3.weight");
  EXPECT_EQ(gg.at("blk.0.exp_probs_b.bias").sources.at(0), "model.layers.0.block_sparse_moe.e_score_correction_bias");
}

TEST(ArchMoeTensors, ErnieBiasKeepsItsHfShape) {
  const ModelConfig c = small_config("ernie-4.5-21b-a3b", {"moe_num_experts=4", "moe_k=2"}, 2);
  const auto hf = hf_shapes(c);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(hf.at("model.layers.1.mlp.moe_statics.e_score_correction_bias"), (Shape{1, 4}));
  EXPECT_EQ(gg.at("blk.1.exp_probs_b.bias").shape, (Shape{1, 4}));
  EXPECT_EQ(gg.at("blk.1.ffn_up_shexp.weight").shape, (Shape{3072, 2560}));
  EXPECT_TRUE(gg.count("blk.0.ffn_up.weight"));  // the dense first layer
  EXPECT_FALSE(gg.count("output.weight"));        // tied
}

TEST(ArchMoeTensors, HunyuanSharedMlpAndQkNorms) {
  const ModelConfig c =
      small_config("hunyuan-a13b", {"num_experts=4", "moe_topk=[2,2]", "moe_intermediate_size=[3072,3072]"}, 2);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(gg.at("blk.1.attn_q_norm.weight").sources.at(0), "model.layers.1.self_attn.query_layernorm.weight");
  EXPECT_EQ(gg.at("blk.1.ffn_gate_inp.weight").sources.at(0), "model.layers.1.mlp.gate.wg.weight");
  EXPECT_EQ(gg.at("blk.1.ffn_up_shexp.weight").shape, (Shape{3072, 4096}));
  EXPECT_EQ(gg.at("blk.1.ffn_gate_exps.weight").shape, (Shape{4, 3072, 4096}));
}

// As conversion/hunyuan.py HYV3Model writes them: the selection bias without a .bias suffix, the
// shared_mlp as *_shexp, the MTP block kept with final_layernorm as nextn.shared_head_norm and no
// embed_tokens / shared_head_head of its own.
TEST(ArchMoeTensors, Hy3BiasSharedMlpAndMtp) {
  const ModelConfig c = small_config("hy3-preview", {"num_experts=4", "num_experts_per_tok=2"}, 2);
  const auto hf = hf_shapes(c);
  const auto gg = gguf_plans(c);
  EXPECT_EQ(hf.at("model.layers.1.mlp.expert_bias"), (Shape{4}));
  EXPECT_EQ(gg.at("blk.1.exp_probs_b").sources.at(0), "model.layers.1.mlp.expert_bias");
  EXPECT_FALSE(gg.count("blk.1.exp_probs_b.bias"));
  EXPECT_EQ(gg.at("blk.1.ffn_gate_inp.weight").shape, (Shape{4, 4096}));
  EXPECT_EQ(gg.at("blk.1.ffn_up_shexp.weight").sources.at(0), "model.layers.1.mlp.shared_mlp.up_proj.weight");
  EXPECT_EQ(gg.at("blk.1.ffn_gate_exps.weight").shape, (Shape{4, 1536, 4096}));
  EXPECT_EQ(gg.at("blk.0.ffn_up.weight").shape, (Shape{13312, 4096}));  // the dense first layer
  EXPECT_FALSE(gg.count("blk.0.ffn_gate_inp.weight"));
  EXPECT_EQ(gg.at("blk.1.attn_q_norm.weight").sources.at(0), "model.layers.1.self_attn.q_norm.weight");
  EXPECT_EQ(gg.at("blk.2.nextn.shared_head_norm.weight").sources.at(0), "model.layers.2.final_layernorm.weight");
  EXPECT_EQ(gg.at("blk.2.nextn.eh_proj.weight").shape, (Shape{4096, 8192}));
  EXPECT_FALSE(gg.count("blk.2.nextn.embed_tokens.weight"));
  EXPECT_FALSE(gg.count("blk.2.nextn.shared_head_head.weight"));
  EXPECT_TRUE(gg.count("blk.2.ffn_gate_exps.weight"));
}

// ---------------------------------------------------------------------------------------------
// Transforms on hand-checked examples

TEST(ArchMoeTransforms, ExpertStackingConcatenatesInExpertOrder) {
  // Two experts' [2, 3] weights -> [2, 2, 3]: expert 0's rows, then expert 1's.
  const std::vector<float> e0 = {1, 2, 3, 4, 5, 6}, e1 = {7, 8, 9, 10, 11, 12};
  ModelConfig c;
  c.hidden_size = 3;
  std::vector<GGUFTensorPlan> plans;
  arch::plan_experts(plans, c, 0, "x.", 2, 2);
  ASSERT_EQ(plans.size(), 3u);
  EXPECT_EQ(plans[0].shape, (Shape{2, 2, 3}));
  const std::vector<float> stacked = plans[0].transform({&e0, &e1});
  EXPECT_EQ(stacked, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(plans[2].shape, (Shape{2, 3, 2}));  // down: [n, hidden, ff]
}

TEST(ArchMoeTransforms, KvBSplitByHand) {
  // 2 heads, qk_nope 2, v 1, kv_lora 3. kv_b rows per head: k0, k1, v0; value = 100*head +
  // 10*row + column.
  const int64_t heads = 2, nope = 2, v = 1, lora = 3;
  std::vector<float> kv_b;
  for (int h = 0; h < heads; ++h)
    for (int r = 0; r < nope + v; ++r)
      for (int j = 0; j < lora; ++j) kv_b.push_back(static_cast<float>(100 * h + 10 * r + j));
  // k_b [head, lora, nope]: the key rows transposed.
  EXPECT_EQ(arch::split_kv_b_k(kv_b, heads, nope, v, lora),
            (std::vector<float>{0, 10, 1, 11, 2, 12, 100, 110, 101, 111, 102, 112}));
  // v_b [head, v, lora]: the value row as is.
  EXPECT_EQ(arch::split_kv_b_v(kv_b, heads, nope, v, lora), (std::vector<float>{20, 21, 22, 120, 121, 122}));
  EXPECT_THROW(arch::split_kv_b_k(kv_b, heads, nope + 1, v, lora), Error);
}

TEST(ArchMoeTransforms, UniformPerLayerLists) {
  EXPECT_EQ(arch::hf_uniform_int(json{{"k", json::array({8, 8, 8})}}, "k", std::nullopt, 1, 64), 8);
  EXPECT_EQ(arch::hf_uniform_int(json{{"k", 5}}, "k", std::nullopt, 1, 64), 5);
  EXPECT_EQ(arch::hf_uniform_int(json::object(), "k", 3, 1, 64), 3);
  EXPECT_THROW(arch::hf_uniform_int(json{{"k", json::array()}}, "k", std::nullopt, 1, 64), Error);
  EXPECT_THROW(arch::hf_uniform_int(json::object(), "k", std::nullopt, 1, 64), Error);
}

// ---------------------------------------------------------------------------------------------
// GGUF metadata round trip: synthesize a small GGUF, read its config back.

struct RoundTrip {
  std::string preset;
  std::vector<std::string> sets;
  std::set<std::string> differ;  // fields the GGUF legitimately describes differently
};

// Small widths so each file is a few MB (the vocabulary dominates).
const std::vector<RoundTrip>& round_trips() {
  static const std::vector<RoundTrip> cases = {
      {"qwen3-30b-a3b",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=8", "intermediate_size=64",
        "moe_intermediate_size=16", "num_experts=8", "num_experts_per_tok=2"},
       {}},
      {"deepseek-moe-16b",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=4", "intermediate_size=64",
        "moe_intermediate_size=16", "n_routed_experts=8", "num_experts_per_tok=2"},
       {"rope_interleaved"}},  // the converter permutes q/k rows for llama.cpp's pair rope
      {"deepseek-v2-lite",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=4", "intermediate_size=64",
        "moe_intermediate_size=16", "n_routed_experts=8", "num_experts_per_tok=2", "kv_lora_rank=16",
        "qk_nope_head_dim=8", "qk_rope_head_dim=4", "v_head_dim=8"},
       {}},
      {"deepseek-v3",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=4", "intermediate_size=64",
        "moe_intermediate_size=16", "n_routed_experts=16", "n_group=4", "topk_group=2", "num_experts_per_tok=4",
        "q_lora_rank=24", "kv_lora_rank=16", "qk_nope_head_dim=8", "qk_rope_head_dim=4", "v_head_dim=8",
        "first_k_dense_replace=1"},
       {"n_nextn_layers"}},  // the converter drops DeepSeek's MTP layers
      // Kimi K2: the only DeepSeek-V3-architecture release whose YaRN betas (1, 1) are not
      // llama.cpp's defaults (32, 1), so the rope.scaling.yarn_beta_* keys must survive the trip.
      {"kimi-k2",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=4", "intermediate_size=64",
        "moe_intermediate_size=16", "n_routed_experts=8", "num_experts_per_tok=2", "q_lora_rank=24",
        "kv_lora_rank=16", "qk_nope_head_dim=8", "qk_rope_head_dim=4", "v_head_dim=8"},
       {}},
      {"glm-4.5-air",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=8", "intermediate_size=64",
        "moe_intermediate_size=16", "n_routed_experts=8", "num_experts_per_tok=2"},
       {}},
      {"minimax-m2",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=8", "rotary_dim=4",
        "intermediate_size=16", "num_local_experts=8", "num_experts_per_tok=2"},
       {}},
      // attn_type_list cut to 2 layers: both lightning; the residual alphas become residual_scale.
      {"minimax-m1",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=8", "rotary_dim=4",
        "intermediate_size=16", "num_local_experts=8", "num_experts_per_tok=2"},
       {}},
      {"ernie-4.5-21b-a3b",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "intermediate_size=64",
        "moe_intermediate_size=16", "moe_num_experts=8", "moe_k=2"},
       {}},
      {"hunyuan-a13b",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "attention_head_dim=8",
        "intermediate_size=16", "moe_intermediate_size=[16,16]", "num_experts=8", "moe_topk=[2,2]"},
       {"context_length"}},  // the converter writes 256Ki ("the config is incorrectly set to 32k")
      // The first layer dense: the GGUF has no key for it, dragon counts the layers without a router.
      {"hy3-preview",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=8", "intermediate_size=64",
        "moe_intermediate_size=16", "num_experts=8", "num_experts_per_tok=2"},
       {}},
      // Hy4: the hyper-connection count / epsilon / magnitude and the routed SwiGLU clamp survive.
      {"hy4-preview",
       {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=4", "intermediate_size=64",
        "moe_intermediate_size=16", "n_routed_experts=8", "num_experts_per_tok=2", "q_lora_rank=24",
        "kv_lora_rank=16", "qk_nope_head_dim=8", "qk_rope_head_dim=4", "v_head_dim=8"},
       {"n_nextn_layers"}},  // the MTP layer is dropped, as DeepSeek-V3's
  };
  return cases;
}

// Equal JSON, with numbers compared to f32 precision (GGUF stores float keys as f32).
bool json_close(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return std::fabs(x - y) <= 1e-6 * std::max(1.0, std::fabs(x));
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [key, value] : a.items())
      if (!b.contains(key) || !json_close(value, b.at(key))) return false;
    return true;
  }
  return a == b;
}

TEST(ArchMoeGguf, MetadataRoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / "dragon_arch_moe_test";
  std::filesystem::create_directories(dir);
  for (const RoundTrip& rt : round_trips()) {
    SCOPED_TRACE(rt.preset);
    SynthOptions o;
    o.preset = rt.preset;
    o.sets = rt.sets;
    o.layers = 2;
    o.seed = 7;
    o.out = (dir / (rt.preset + ".gguf")).string();
    o.tokenizer_dir = test::tokenizers_dir().string();
    synthesize(o);
    const ModelConfig from_hf = plan_synth(o).config;
    auto file = GGUFFile::open(o.out);
    const ModelConfig from_gguf = config_from_gguf(*file);

    json a = config_to_json(from_hf), b = config_to_json(from_gguf);
    // Not model facts: which file it came from and the first HF name of the family; and the
    // special tokens, which the GGUF takes from the (padded, often borrowed) tokenizer.
    for (const char* k : {"name", "hf_architecture", "bos_token_id", "eos_token_id"}) a.erase(k), b.erase(k);
    int compared = 0;
    for (const auto& [key, value] : a.items()) {
      if (rt.differ.count(key)) continue;
      ++compared;
      EXPECT_TRUE(json_close(value, b.value(key, json())))
          << "field " << key << ": HF " << value.dump() << ", GGUF " << b.value(key, json()).dump();
    }
    for (const std::string& key : rt.differ) EXPECT_NE(a.value(key, json()), b.value(key, json())) << key;
    std::printf("%-20s %zu GGUF tensors, %d config fields equal after the round trip\n", rt.preset.c_str(),
                file->tensors().size(), compared);
    std::filesystem::remove(o.out);
  }
}

// ---------------------------------------------------------------------------------------------
// Synthetic routing: the routers spread tokens over experts.

// Top-k expert indices of one token from scores (higher is better).
std::vector<int> top_k(const std::vector<double>& scores, int k) {
  std::vector<int> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int x, int y) { return scores[x] > scores[y]; });
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

struct RoutingStats {
  int distinct_sets = 0;      // distinct top-k sets over the tokens
  int experts_used = 0;       // experts chosen by at least one token
  double moved_by_bias = 0;   // fraction of tokens whose set changes when the bias is added
};

// Routes `tokens` unit-RMS random hidden states through layer `il`'s synthetic router.
RoutingStats route(const ModelConfig& c, int64_t il, const std::string& router, const std::string& bias, int tokens) {
  std::map<std::string, HFTensorSpec> specs;
  for (HFTensorSpec& s : find_arch_by_gguf(c.arch)->hf_tensors(c)) specs.emplace(s.name, s);
  const std::vector<float> w = synth_tensor_values(specs.at(arch::hf_layer(il) + router), 0);
  std::vector<float> b;
  if (!bias.empty()) b = synth_tensor_values(specs.at(arch::hf_layer(il) + bias), 0);
  const int64_t E = c.n_experts, H = c.hidden_size;
  std::set<std::vector<int>> sets;
  std::set<int> used;
  int moved = 0;
  std::vector<float> x(static_cast<size_t>(H));
  for (int t = 0; t < tokens; ++t) {
    fill_standard_normal(1234567 + static_cast<uint64_t>(t), 0, H, x.data());
    std::vector<double> score(static_cast<size_t>(E)), biased(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) {
      double logit = 0;
      for (int64_t j = 0; j < H; ++j) logit += static_cast<double>(w[e * H + j]) * x[j];
      score[e] = c.scoring_func == "sigmoid" ? 1.0 / (1.0 + std::exp(-logit)) : logit;
      biased[e] = score[e] + (b.empty() ? 0.0 : b[e]);
    }
    if (c.scoring_func == "softmax" && !b.empty()) {  // ERNIE adds the bias to probabilities
      double mx = *std::max_element(score.begin(), score.end()), sum = 0;
      for (double& s : score) sum += (s = std::exp(s - mx));
      for (int64_t e = 0; e < E; ++e) biased[e] = (score[e] /= sum) + b[e];
    }
    const auto chosen = top_k(biased, static_cast<int>(c.n_experts_used));
    sets.insert(chosen);
    used.insert(chosen.begin(), chosen.end());
    if (top_k(score, static_cast<int>(c.n_experts_used)) != chosen) ++moved;
  }
  return {static_cast<int>(sets.size()), static_cast<int>(used.size()), static_cast<double>(moved) / tokens};
}

TEST(ArchMoeRouting, TokensSpreadOverExpertsAndBiasIsSmall) {
  constexpr int kTokens = 200;
  struct Case {
    std::string preset, router, bias;
    std::vector<std::string> sets;
  };
  const std::vector<Case> cases = {
      {"qwen3-30b-a3b", "mlp.gate.weight", "", {"hidden_size=256", "num_experts=16", "num_experts_per_tok=4"}},
      {"deepseek-v3",
       "mlp.gate.weight",
       "mlp.gate.e_score_correction_bias",
       {"hidden_size=256", "n_routed_experts=16", "n_group=4", "topk_group=2", "num_experts_per_tok=4",
        "first_k_dense_replace=0"}},
      {"minimax-m2", "block_sparse_moe.gate.weight", "block_sparse_moe.e_score_correction_bias",
       {"hidden_size=256", "num_local_experts=16", "num_experts_per_tok=4"}},
      {"ernie-4.5-21b-a3b", "mlp.gate.weight", "mlp.moe_statics.e_score_correction_bias",
       {"hidden_size=256", "num_attention_heads=4", "num_key_value_heads=2", "moe_num_experts=16", "moe_k=4",
        "moe_layer_start_index=0"}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.preset);
    const ModelConfig c = small_config(k.preset, k.sets, 1);
    const RoutingStats s = route(c, 0, k.router, k.bias, kTokens);
    std::printf("%-20s %d tokens: %d distinct top-%lld sets, %d/%lld experts used, bias moves %.1f%% of tokens\n",
                k.preset.c_str(), kTokens, s.distinct_sets, static_cast<long long>(c.n_experts_used), s.experts_used,
                static_cast<long long>(c.n_experts), 100.0 * s.moved_by_bias);
    EXPECT_GT(s.distinct_sets, kTokens / 2);       // most tokens take their own path
    EXPECT_EQ(s.experts_used, c.n_experts);        // no expert is dead
    if (!k.bias.empty()) {
      EXPECT_GT(s.moved_by_bias, 0.02);            // the bias matters to some tokens...
      EXPECT_LT(s.moved_by_bias, 0.4);             // ...without deciding the routing alone
    }
  }
}

}  // namespace
}  // namespace dragon
