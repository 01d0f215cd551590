// MiniMax-M3 (arch_minimax_m3.cc, models/msa.h): the preset's config.json reads into the shape
// llama.cpp's converter derives (leading dense run from moe_layer_freq, MSA keys, shared experts,
// swigluoai), the tensor lists carry the indexer in the MoE layers only with the converter's +1
// on every norm, bad configs are refused by name, and the MSA block choice on hand-made scores.
#include <gtest/gtest.h>

#include <map>

#include "kernels/vector_ops.h"
#include "models/arch.h"
#include "models/msa.h"
#include "synth/preset.h"
#include "synth/synth.h"
#include "util/error.h"

namespace dragon {
namespace {

using json = nlohmann::json;
using Shape = std::vector<int64_t>;

ModelConfig small_config(const std::vector<std::string>& sets, int64_t layers) {
  SynthOptions o;
  o.preset = "minimax-m3";
  o.sets = sets;
  o.layers = layers;
  return plan_synth(o).config;
}

std::string refusal(const std::vector<std::string>& sets, int64_t layers = 0) {
  try {
    small_config(sets, layers);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MiniMaxM3Config, PresetReadsTheConverterShape) {
  const ModelConfig c = config_from_hf(json::parse(find_preset("minimax-m3")->config_json));
  EXPECT_EQ(c.arch, "minimax-m3");
  EXPECT_EQ(c.n_layers, 60);
  EXPECT_EQ(c.first_k_dense_replace, 3);  // moe_layer_freq's leading zeros
  EXPECT_EQ(c.intermediate_size, 12288);  // dense_intermediate_size
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.shared_expert_intermediate_size, 1536);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.swiglu_oai);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  EXPECT_TRUE(c.is_msa());
  EXPECT_FALSE(c.is_dsa());
  EXPECT_EQ(c.index_n_heads, 8);
  EXPECT_EQ(c.index_head_dim, 128);
  EXPECT_EQ(c.msa_block_size, 128);
  EXPECT_EQ(c.msa_topk_blocks, 16);
  EXPECT_EQ(c.msa_local_blocks, 1);
  EXPECT_FALSE(c.layer_is_msa(2));
  EXPECT_TRUE(c.layer_is_msa(3));
}

TEST(MiniMaxM3Config, RefusesWhatLlamaCppCannotRun) {
  EXPECT_NE(refusal({"moe_layer_freq=[0,1,0]"}, 3).find("moe_layer_freq[2]"), std::string::npos);
  EXPECT_NE(refusal({"moe_layer_freq=[0]"}, 3).find("moe_layer_freq"), std::string::npos);
  EXPECT_NE(refusal({"sparse_attention_config.sparse_num_index_heads=4"}).find("sparse_num_index_heads"),
            std::string::npos);
  EXPECT_NE(refusal({"sparse_attention_config.sparse_block_size=0"}).find("sparse_block_size"), std::string::npos);
  EXPECT_NE(refusal({"sparse_attention_config.sparse_local_block=17"}).find("sparse_local_block"), std::string::npos);
  EXPECT_NE(refusal({"attention_bias=true"}).find("attention_bias"), std::string::npos);
  EXPECT_EQ(refusal({}), "");
}

TEST(MiniMaxM3Tensors, IndexerInMoeLayersAndCentredNorms) {
  const ModelConfig c = small_config({"num_local_experts=4", "num_experts_per_tok=2", "moe_layer_freq=[0,1]"}, 2);
  std::map<std::string, GGUFTensorPlan> gg;
  for (GGUFTensorPlan& p : find_arch_by_gguf(c.arch)->gguf_tensors(c)) gg[p.name] = std::move(p);
  EXPECT_FALSE(gg.count("blk.0.indexer.q_proj.weight"));
  EXPECT_EQ(gg.at("blk.0.ffn_up.weight").shape, (Shape{12288, 6144}));
  EXPECT_EQ(gg.at("blk.1.indexer.q_proj.weight").shape, (Shape{8 * 128, 6144}));
  EXPECT_FALSE(gg.at("blk.1.indexer.k_proj.weight").quantizable);  // the converter forces F32
  EXPECT_EQ(gg.at("blk.1.indexer.k_norm.weight").sources.at(0), "model.layers.1.self_attn.index_k_norm.weight");
  EXPECT_EQ(gg.at("blk.1.ffn_gate_exps.weight").sources.at(0), "model.layers.1.block_sparse_moe.experts.0.w1.weight");
  EXPECT_EQ(gg.at("blk.1.ffn_down_shexp.weight").shape, (Shape{6144, 1536}));
  EXPECT_EQ(gg.at("blk.1.attn_q_norm.weight").shape, (Shape{128}));  // per head, unlike M2
  // Every norm gets the converter's +1; a projection does not.
  const std::vector<float> zero(128, 0.0f), row(4, 0.5f);
  for (const char* name : {"blk.1.attn_q_norm.weight", "blk.1.indexer.q_norm.weight", "output_norm.weight",
                           "blk.0.attn_norm.weight", "blk.1.ffn_norm.weight"}) {
    const GGUFTensorPlan& p = gg.at(name);
    ASSERT_TRUE(static_cast<bool>(p.transform)) << name;
    EXPECT_FLOAT_EQ(p.transform({&zero}).at(0), 1.0f) << name;
  }
  EXPECT_FALSE(static_cast<bool>(gg.at("blk.1.indexer.q_proj.weight").transform));
}

TEST(MiniMaxM3Msa, BlockChoiceKeepsLocalThenBestScores) {
  using blocks::msa_select_blocks;
  // Few enough blocks: all of them (dense).
  EXPECT_EQ(msa_select_blocks({0.f, 5.f, 1.f}, 2, 3, 1), (std::vector<int64_t>{0, 1, 2}));
  // 6 visible blocks, 3 chosen: the own block (5) forced although it scores lowest, then 1 and 3.
  EXPECT_EQ(msa_select_blocks({0.f, 9.f, 2.f, 7.f, 1.f, -5.f}, 5, 3, 1), (std::vector<int64_t>{1, 3, 5}));
  // Two local blocks forced (4, 5), one by score; ties go to the earlier block.
  EXPECT_EQ(msa_select_blocks({3.f, 3.f, 1.f, 0.f, -1.f, -2.f}, 5, 3, 2), (std::vector<int64_t>{0, 4, 5}));
  // No forced block: pure top-k.
  EXPECT_EQ(msa_select_blocks({0.f, 9.f, 2.f, 7.f, 1.f}, 4, 2, 0), (std::vector<int64_t>{1, 3}));
  EXPECT_THROW(msa_select_blocks({0.f}, 3, 2, 1), Error);
}

TEST(MiniMaxM3Msa, SwigluOaiClampsGateAndUp) {
  // g = min(gate, 7), u = clamp(up, -7, 7): g sigmoid(1.702 g) (u + 1).
  const auto expect = [](float g, float u) { return g / (1.0f + std::exp(-1.702f * g)) * (u + 1.0f); };
  EXPECT_FLOAT_EQ(swiglu_oai(1.0f, 2.0f), expect(1.0f, 2.0f));
  EXPECT_FLOAT_EQ(swiglu_oai(20.0f, 2.0f), expect(7.0f, 2.0f));
  EXPECT_FLOAT_EQ(swiglu_oai(-20.0f, 2.0f), expect(-20.0f, 2.0f));  // the gate is clamped above only
  EXPECT_FLOAT_EQ(swiglu_oai(1.0f, -30.0f), expect(1.0f, -7.0f));
  EXPECT_FLOAT_EQ(swiglu_oai(1.0f, 30.0f), expect(1.0f, 7.0f));
}

}  // namespace
}  // namespace dragon
