// Tencent Hy4 (arch_hy_v4.cc, models/hyper_connections.h):
//  - the hy4-preview preset reads into the config the release describes (78 layers, 256 experts
//    top-8 + 1 shared, MLA, 4 hyper-connection streams, sinks + output gate, the SwiGLU clamp);
//  - a DSA config is refused with a clear error (not supported yet);
//  - the HF and GGUF tensors of the hy-v4 parts have the names / shapes llama.cpp's hy_v4 loads;
//  - hc_pre / hc_post against the formulas computed by hand on a 2-stream, 2-wide example.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "models/arch.h"
#include "models/hyper_connections.h"
#include "synth/preset.h"
#include "synth/synth.h"
#include "util/error.h"
#include "kernels/thread_pool.h"

namespace dragon {
namespace {

using json = nlohmann::json;
using Shape = std::vector<int64_t>;

json preset_json() { return json::parse(find_preset("hy4-preview")->config_json); }

TEST(Hy4Config, Preset) {
  const ModelConfig c = config_from_hf(preset_json());
  EXPECT_EQ(c.arch, "hy_v4");
  EXPECT_EQ(c.n_layers, 78);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.n_experts, 256);
  EXPECT_EQ(c.n_experts_used, 8);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.scoring_func, "sigmoid");
  EXPECT_TRUE(c.expert_score_bias);
  EXPECT_TRUE(c.is_mla());
  EXPECT_EQ(c.hc_mult, 4);
  EXPECT_NEAR(c.hc_magnitude, 2.0, 1e-12);
  EXPECT_NEAR(c.swiglu_limit, 10.0, 1e-12);
  EXPECT_TRUE(c.attention_sinks);
  EXPECT_TRUE(c.attention_output_gate);
  EXPECT_FALSE(c.is_dsa());
  std::printf("hy4-preview: %lld layers, %lld experts top-%lld, hc_mult %lld\n", static_cast<long long>(c.n_layers),
              static_cast<long long>(c.n_experts), static_cast<long long>(c.n_experts_used),
              static_cast<long long>(c.hc_mult));
}

TEST(Hy4Config, RefusesDsaAndMissingStreams) {
  json hf = preset_json();
  hf["index_topk"] = 2048;
  try {
    config_from_hf(hf);
    ADD_FAILURE() << "a DSA config was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index_topk"), std::string::npos) << e.what();
  }
  hf = preset_json();
  hf["hc_mult"] = 0;
  EXPECT_THROW(config_from_hf(hf), Error);
}

TEST(Hy4Tensors, HyperConnectionsSinksAndGate) {
  SynthOptions o;
  o.preset = "hy4-preview";
  o.sets = {"hidden_size=32", "num_attention_heads=4", "num_key_value_heads=4", "n_routed_experts=8",
            "num_experts_per_tok=2", "moe_intermediate_size=16", "q_lora_rank=24", "kv_lora_rank=16",
            "qk_nope_head_dim=8", "qk_rope_head_dim=4", "v_head_dim=8"};
  o.layers = 2;
  const ModelConfig c = plan_synth(o).config;
  const ArchSpec* spec = find_arch_by_gguf("hy_v4");
  ASSERT_NE(spec, nullptr);
  std::map<std::string, Shape> hf, gg;
  std::map<std::string, std::string> source;
  for (const HFTensorSpec& s : spec->hf_tensors(c)) hf[s.name] = s.shape;
  for (const GGUFTensorPlan& p : spec->gguf_tensors(c)) gg[p.name] = p.shape, source[p.name] = p.sources.at(0);
  EXPECT_EQ(hf.at("model.layers.1.hc_attn_layer.hc_pre.hc_fn"), (Shape{8, 128}));
  EXPECT_EQ(hf.at("model.layers.1.hc_mlp_layer.hc_pre.hc_scale"), (Shape{2}));
  EXPECT_EQ(hf.at("model.hc_head.hc_head_fn"), (Shape{4, 128}));
  EXPECT_EQ(gg.at("blk.1.hc_ffn_fn.weight"), (Shape{8, 128}));
  EXPECT_EQ(source.at("blk.1.hc_ffn_fn.weight"), "model.layers.1.hc_mlp_layer.hc_pre.hc_fn");
  EXPECT_EQ(gg.at("output_hc_scale.weight"), (Shape{1}));
  EXPECT_EQ(gg.at("blk.0.attn_sinks.weight"), (Shape{4}));
  EXPECT_EQ(source.at("blk.0.attn_sinks.weight"), "model.layers.0.self_attn.learnable_sink_param");
  EXPECT_EQ(gg.at("blk.0.attn_gate.weight"), (Shape{32, 32}));
  EXPECT_EQ(gg.count("blk.0.ffn_gate.weight"), 1u);       // the leading dense layer
  EXPECT_EQ(gg.count("blk.1.ffn_up_shexp.weight"), 1u);   // the shared expert
  EXPECT_EQ(gg.count("blk.1.exp_probs_b.bias"), 1u);      // the selection bias
}

// Two streams of width 2, one token; fn picks plain sums so the mixes are checkable by hand.
TEST(Hy4HyperConnections, PreAndPostMatchTheFormulas) {
  ModelConfig c;
  c.hc_mult = 2;
  c.hidden_size = 2;
  c.norm_eps = 1e-6;
  c.hc_eps = 0.01;
  c.hc_magnitude = 2.0;
  const std::vector<float> fn = {1, 0, 0, 0,    // pre 0 <- stream 0 element 0
                                 0, 0, 1, 0,    // pre 1 <- stream 1 element 0
                                 0, 1, 0, 0,    // post 0
                                 0, 0, 0, 1};   // post 1
  TensorView fn_view;
  fn_view.name = "fn";
  fn_view.dtype = DType::F32;
  fn_view.shape = {4, 4};
  fn_view.data = reinterpret_cast<const uint8_t*>(fn.data());
  fn_view.nbytes = fn.size() * sizeof(float);
  blocks::HcWeights w;
  w.fn = &fn_view;
  w.base = {0.5f, -0.5f, 0.0f, 1.0f};
  w.scale = {2.0f, 0.5f};
  Activations s(1, 4);
  s.data = {1.0f, 2.0f, -3.0f, 4.0f};
  ThreadPool pool(1);
  Activations post;
  const Activations x = blocks::hc_pre(s, w, c, pool, &post);

  const double r = 1.0 / std::sqrt((1.0 + 4.0 + 9.0 + 16.0) / 4.0 + 1e-6);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double pre0 = sig(2.0 * 1.0 * r + 0.5) + 0.01, pre1 = sig(2.0 * -3.0 * r - 0.5) + 0.01;
  const double post0 = 2.0 * sig(0.5 * 2.0 * r + 0.0) + 0.01, post1 = 2.0 * sig(0.5 * 4.0 * r + 1.0) + 0.01;
  EXPECT_NEAR(x.data[0], pre0 * 1.0 + pre1 * -3.0, 1e-5);
  EXPECT_NEAR(x.data[1], pre0 * 2.0 + pre1 * 4.0, 1e-5);
  EXPECT_NEAR(post.data[0], post0, 1e-5);
  EXPECT_NEAR(post.data[1], post1, 1e-5);

  Activations out(1, 2);
  out.data = {10.0f, -1.0f};
  blocks::hc_post(s, out, post);
  EXPECT_NEAR(s.data[0], 1.0 + post0 * 10.0, 1e-4);
  EXPECT_NEAR(s.data[3], 4.0 - post1, 1e-4);
  std::printf("hc_pre x = (%.5f, %.5f), post = (%.5f, %.5f)\n", x.data[0], x.data[1], post.data[0], post.data[1]);
}

}  // namespace
}  // namespace dragon
