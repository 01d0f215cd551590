// The dense families (llama, qwen2, glm4, ernie4_5, baichuan) against their real configs:
// HF config -> ModelConfig, GGUF metadata round trip, tensor lists (counts and shapes as in the
// real checkpoints / llama.cpp's GGUFs), and the q/k row permutations of the GGUF conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include <unistd.h>

#include "io/gguf.h"
#include "models/arch.h"
#include "models/arch_common.h"
#include "synth/preset.h"
#include "util/error.h"

namespace dragon {
namespace {

using json = nlohmann::json;

json preset_json(const std::string& name) {
  const Preset* p = find_preset(name);
  if (!p) throw std::runtime_error("no preset " + name);
  return json::parse(p->config_json);
}

ModelConfig preset_config(const std::string& name) { return config_from_hf(preset_json(name)); }

// --- HF config -> ModelConfig ----------------------------------------------------------------

TEST(DenseArchConfig, Qwen25FromRealConfig) {
  const ModelConfig c = preset_config("qwen2.5-0.5b");
  EXPECT_EQ(c.arch, "qwen2");
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.hidden_size, 896);
  EXPECT_EQ(c.n_layers, 24);
  EXPECT_EQ(c.n_heads, 14);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.intermediate_size, 4864);
  EXPECT_EQ(c.context_length, 32768);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);  // Qwen2 always has q/k/v biases
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_FALSE(c.rope_interleaved);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);

  const ModelConfig c7 = preset_config("qwen2.5-7b");
  EXPECT_EQ(c7.vocab_size, 152064);
  EXPECT_EQ(c7.head_dim, 128);
  EXPECT_EQ(c7.n_kv_heads, 4);
  EXPECT_FALSE(c7.tie_word_embeddings);
}

TEST(DenseArchConfig, LlamaReleasesFromRealConfigs) {
  const ModelConfig ds = preset_config("deepseek-llm-7b");
  EXPECT_EQ(ds.arch, "llama");
  EXPECT_EQ(ds.n_layers, 30);
  EXPECT_EQ(ds.n_kv_heads, 32);
  EXPECT_EQ(ds.vocab_size, 102400);
  EXPECT_EQ(ds.bos_token_id, 100000);
  EXPECT_EQ(ds.eos_token_id, 100001);
  EXPECT_FALSE(ds.attention_bias);
  EXPECT_FALSE(ds.rope_interleaved);  // HF rows: NeoX halves

  const ModelConfig yi = preset_config("yi-6b");
  EXPECT_EQ(yi.arch, "llama");
  EXPECT_EQ(yi.n_kv_heads, 4);
  EXPECT_EQ(yi.head_dim, 128);
  EXPECT_DOUBLE_EQ(yi.rope_theta, 5e6);
  EXPECT_DOUBLE_EQ(yi.norm_eps, 1e-5);

  // LlamaConfig.attention_bias covers o_proj too.
  json biased = preset_json("yi-6b");
  biased["attention_bias"] = true;
  biased["mlp_bias"] = true;
  const ModelConfig b = config_from_hf(biased);
  EXPECT_TRUE(b.attention_bias);
  EXPECT_TRUE(b.attention_out_bias);
  EXPECT_TRUE(b.mlp_bias);
}

TEST(DenseArchConfig, Glm4FromRealConfig) {
  const ModelConfig c = preset_config("glm-4-9b");
  EXPECT_EQ(c.arch, "glm4");
  EXPECT_EQ(c.n_layers, 40);
  EXPECT_EQ(c.n_heads, 32);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rotary_dim, 64);  // partial_rotary_factor 0.5
  EXPECT_EQ(c.intermediate_size, 13696);
  EXPECT_EQ(c.vocab_size, 151552);
  EXPECT_EQ(c.eos_token_id, 151329);  // first of the list
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_TRUE(c.rope_interleaved);

  // Glm4Config's default partial_rotary_factor is 0.5 too.
  json no_factor = preset_json("glm-4-9b");
  no_factor.erase("partial_rotary_factor");
  EXPECT_EQ(config_from_hf(no_factor).rotary_dim, 64);
}

TEST(DenseArchConfig, Ernie45FromRealConfig) {
  const ModelConfig c = preset_config("ernie-4.5-0.3b");
  EXPECT_EQ(c.arch, "ernie4_5");
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.head_dim, 128);  // explicit, twice hidden / heads
  EXPECT_EQ(c.n_heads, 16);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.n_layers, 18);
  EXPECT_EQ(c.context_length, 131072);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_TRUE(c.rope_interleaved);

  json biased = preset_json("ernie-4.5-0.3b");
  biased["use_bias"] = true;
  const ModelConfig b = config_from_hf(biased);
  EXPECT_TRUE(b.attention_bias && b.attention_out_bias && b.mlp_bias);
}

TEST(DenseArchConfig, BaichuanFromRealConfigAndAlibiFor13B) {
  const ModelConfig c = preset_config("baichuan2-7b");
  EXPECT_EQ(c.arch, "baichuan");
  EXPECT_EQ(c.vocab_size, 125696);
  EXPECT_EQ(c.n_layers, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FALSE(c.alibi);
  EXPECT_FALSE(c.rope_interleaved);

  // Baichuan2-13B's shape (40 layers, no max_position_embeddings but model_max_length): ALiBi.
  json big = preset_json("baichuan2-7b");
  big["hidden_size"] = 5120;
  big["num_attention_heads"] = 40;
  big["num_hidden_layers"] = 40;
  big["intermediate_size"] = 13696;
  big.erase("max_position_embeddings");
  const ModelConfig b = config_from_hf(big);
  EXPECT_TRUE(b.alibi);
  EXPECT_EQ(b.context_length, 4096);

  json gqa = preset_json("baichuan2-7b");
  gqa["num_key_value_heads"] = 8;
  EXPECT_THROW(config_from_hf(gqa), Error);  // W_pack cannot hold GQA
}

// --- GGUF metadata round trip ----------------------------------------------------------------

// Writes the family's metadata plus every planned tensor name (as a 1-element placeholder: the
// readers only test which tensors exist), reads it back with config_from_gguf.
ModelConfig gguf_round_trip(const ModelConfig& c, const std::string& tag) {
  const ArchSpec* spec = find_arch_by_gguf(c.arch);
  EXPECT_NE(spec, nullptr);
  GGUFWriter w;
  w.set("general.architecture", GGUFValue::str(c.arch));
  spec->write_gguf_metadata(c, w);
  w.set(c.arch + ".vocab_size", GGUFValue::u32(static_cast<uint32_t>(c.vocab_size)));
  const auto plans = spec->gguf_tensors(c);
  for (const auto& p : plans) w.add_tensor(p.name, DType::F32, {1});
  const std::string path =
      (std::filesystem::temp_directory_path() / ("dragon_dense_" + tag + "_" + std::to_string(getpid()) + ".gguf"))
          .string();
  w.write(path, [](size_t) { return std::vector<uint8_t>(4, 0); });
  auto file = GGUFFile::open(path);
  ModelConfig back = config_from_gguf(*file);
  std::filesystem::remove(path);
  return back;
}

void expect_same_model(const ModelConfig& a, const ModelConfig& b, bool interleaved_in_gguf) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.v_head_dim, b.v_head_dim);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.context_length, b.context_length);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_NEAR(a.norm_eps, b.norm_eps, a.norm_eps * 1e-6);  // stored as f32
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.attention_out_bias, b.attention_out_bias);
  EXPECT_EQ(a.mlp_bias, b.mlp_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_NEAR(a.rope_theta, b.rope_theta, a.rope_theta * 1e-6);
  EXPECT_EQ(a.rotary_dim, b.rotary_dim);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.alibi, b.alibi);
  // The q/k layout is that of the file: the converter permutes llama / baichuan rows.
  EXPECT_EQ(b.rope_interleaved, interleaved_in_gguf);
}

TEST(DenseArchGGUF, MetadataRoundTripOfEveryPreset) {
  const std::map<std::string, bool> presets = {
      {"qwen2.5-0.5b", false}, {"qwen2.5-7b", false}, {"deepseek-llm-7b", true}, {"yi-6b", true},
      {"glm-4-9b", true},      {"ernie-4.5-0.3b", true}, {"baichuan2-7b", true}};
  for (const auto& [name, interleaved] : presets) {
    SCOPED_TRACE(name);
    const ModelConfig c = preset_config(name);
    expect_same_model(c, gguf_round_trip(c, name), interleaved);
  }
}

TEST(DenseArchGGUF, OptionalBiasesAndAlibiSurviveTheRoundTrip) {
  json llama = preset_json("yi-6b");
  llama["attention_bias"] = true;
  llama["mlp_bias"] = true;
  llama["num_hidden_layers"] = 2;
  const ModelConfig l = config_from_hf(llama);
  expect_same_model(l, gguf_round_trip(l, "llama_bias"), true);

  json ernie = preset_json("ernie-4.5-0.3b");
  ernie["use_bias"] = true;
  const ModelConfig e = config_from_hf(ernie);
  EXPECT_THROW(find_arch_by_gguf("ernie4_5")->gguf_tensors(e), Error);  // no FFN bias in llama.cpp

  json big = preset_json("baichuan2-7b");
  big["hidden_size"] = 5120;
  big["num_attention_heads"] = 40;
  big["num_hidden_layers"] = 40;
  const ModelConfig b = config_from_hf(big);
  const ModelConfig back = gguf_round_trip(b, "baichuan13b");
  EXPECT_TRUE(back.alibi);
  expect_same_model(b, back, true);
}

// --- Tensor lists ----------------------------------------------------------------------------

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct Lists {
  std::map<std::string, std::vector<int64_t>> hf, gguf;
  int64_t hf_elements = 0, gguf_elements = 0;
  size_t hf_count = 0, gguf_count = 0;
};

Lists tensor_lists(const std::string& preset) {
  const ModelConfig c = preset_config(preset);
  const ArchSpec* spec = find_arch_by_gguf(c.arch);
  Lists l;
  for (const auto& t : spec->hf_tensors(c)) {
    EXPECT_TRUE(l.hf.emplace(t.name, t.shape).second) << "HF tensor listed twice: " << t.name;
    l.hf_elements += numel(t.shape);
    ++l.hf_count;
  }
  for (const auto& p : spec->gguf_tensors(c)) {
    EXPECT_TRUE(l.gguf.emplace(p.name, p.shape).second) << "GGUF tensor listed twice: " << p.name;
    for (const auto& s : p.sources) EXPECT_TRUE(l.hf.count(s)) << p.name << ": unknown source " << s;
    if (!p.transform) {
      EXPECT_EQ(p.sources.size(), 1u) << p.name;
      EXPECT_EQ(numel(l.hf.at(p.sources.at(0))), numel(p.shape)) << p.name;
    }
    l.gguf_elements += numel(p.shape);
    ++l.gguf_count;
  }
  return l;
}

TEST(DenseArchTensors, CountsAndShapesOfTheRealCheckpoints) {
  // Counts as in the releases' safetensors index and llama.cpp's converted GGUFs.
  // Parameter counts as the model cards state them (billions, rounded).
  struct Expect { const char* preset; size_t hf, gguf; double billions; };
  for (const Expect& e : {Expect{"qwen2.5-0.5b", 290, 290, 0.49}, Expect{"qwen2.5-7b", 339, 339, 7.61},
                          Expect{"deepseek-llm-7b", 273, 273, 6.91}, Expect{"yi-6b", 291, 291, 6.06},
                          Expect{"glm-4-9b", 523, 523, 9.40}, Expect{"ernie-4.5-0.3b", 164, 164, 0.36},
                          Expect{"baichuan2-7b", 227, 291, 7.51}}) {
    SCOPED_TRACE(e.preset);
    const Lists l = tensor_lists(e.preset);
    EXPECT_EQ(l.hf_count, e.hf);
    EXPECT_EQ(l.gguf_count, e.gguf);
    // Every weight goes into the GGUF exactly once (splits and permutations keep the count).
    EXPECT_EQ(l.hf_elements, l.gguf_elements);
    EXPECT_NEAR(static_cast<double>(l.hf_elements) / 1e9, e.billions, 0.01 + 0.005 * e.billions);
    std::printf("%-16s HF %zu tensors, GGUF %zu tensors, %.3f B parameters\n", e.preset, l.hf_count, l.gguf_count,
                static_cast<double>(l.hf_elements) / 1e9);
  }

  const Lists q = tensor_lists("qwen2.5-7b");
  EXPECT_EQ(q.hf.at("model.layers.0.self_attn.k_proj.weight"), (std::vector<int64_t>{512, 3584}));
  EXPECT_EQ(q.gguf.at("blk.27.attn_k.bias"), (std::vector<int64_t>{512}));
  EXPECT_EQ(q.gguf.at("output.weight"), (std::vector<int64_t>{152064, 3584}));

  const Lists g = tensor_lists("glm-4-9b");
  EXPECT_EQ(g.hf.at("model.layers.0.mlp.gate_up_proj.weight"), (std::vector<int64_t>{27392, 4096}));
  EXPECT_EQ(g.gguf.at("blk.0.ffn_up.weight"), (std::vector<int64_t>{27392, 4096}));
  EXPECT_EQ(g.gguf.count("blk.0.ffn_gate.weight"), 0u);
  EXPECT_EQ(g.gguf.at("blk.39.post_attention_norm.weight"), (std::vector<int64_t>{4096}));
  EXPECT_EQ(g.gguf.at("blk.39.post_ffw_norm.weight"), (std::vector<int64_t>{4096}));
  EXPECT_EQ(g.gguf.at("blk.0.attn_k.weight"), (std::vector<int64_t>{256, 4096}));

  const Lists e = tensor_lists("ernie-4.5-0.3b");
  EXPECT_EQ(e.hf.at("model.layers.0.self_attn.q_proj.weight"), (std::vector<int64_t>{2048, 1024}));
  EXPECT_EQ(e.hf.at("model.layers.0.self_attn.o_proj.weight"), (std::vector<int64_t>{1024, 2048}));
  EXPECT_EQ(e.gguf.count("output.weight"), 0u);  // tied

  const Lists b = tensor_lists("baichuan2-7b");
  EXPECT_EQ(b.hf.at("model.layers.0.self_attn.W_pack.weight"), (std::vector<int64_t>{12288, 4096}));
  EXPECT_EQ(b.gguf.at("blk.31.attn_v.weight"), (std::vector<int64_t>{4096, 4096}));
}

// --- Transforms ------------------------------------------------------------------------------

TEST(DenseArchTransforms, PermutationMatchesAHandComputedExample) {
  // Two heads of 4 rows, one column: HF halves (0,1 | 2,3) become adjacent pairs (0,2,1,3).
  const std::vector<float> src = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(arch::permute_qk_rows(src, 8, 1, 2), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  // Rows move whole: 1 head of 4 rows x 2 columns.
  const std::vector<float> m = {10, 11, 20, 21, 30, 31, 40, 41};
  EXPECT_EQ(arch::permute_qk_rows(m, 4, 2, 1), (std::vector<float>{10, 11, 30, 31, 20, 21, 40, 41}));
  EXPECT_THROW(arch::permute_qk_rows(src, 8, 1, 3), Error);
}

// The point of the permutation: NeoX rope on the HF rows equals adjacent-pair rope on the
// permuted rows, up to the same permutation of the output. Also checks it is invertible.
TEST(DenseArchTransforms, PermutedRowsGiveTheSameRope) {
  const int64_t n_head = 3, d = 8, cols = 5, rows = n_head * d;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> w(rows * cols), x(cols);
  for (float& v : w) v = normal(rng);
  for (float& v : x) v = normal(rng);
  const std::vector<float> wp = arch::permute_qk_rows(w, rows, cols, n_head);

  auto matvec = [&](const std::vector<float>& m) {
    std::vector<double> y(rows, 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k) y[r] += double(m[r * cols + k]) * x[k];
    return y;
  };
  const int pos = 5;
  auto angle = [&](int64_t i) { return pos * std::pow(10000.0, -2.0 * double(i) / double(d)); };
  std::vector<double> neox = matvec(w), pairs = matvec(wp);
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < d / 2; ++i) {
      double* a = &neox[h * d + i];  // NeoX: (i, i + d/2)
      double* b = &neox[h * d + i + d / 2];
      const double c = std::cos(angle(i)), s = std::sin(angle(i));
      const double a0 = *a, b0 = *b;
      *a = a0 * c - b0 * s;
      *b = b0 * c + a0 * s;
      double* p = &pairs[h * d + 2 * i];  // GPT-J / llama.cpp NORM: (2i, 2i + 1)
      double* q = &pairs[h * d + 2 * i + 1];
      const double p0 = *p, q0 = *q;
      *p = p0 * c - q0 * s;
      *q = q0 * c + p0 * s;
    }
  std::vector<float> neox_f(neox.begin(), neox.end());
  const std::vector<float> expected = arch::permute_qk_rows(neox_f, rows, 1, n_head);
  double max_err = 0;
  for (int64_t r = 0; r < rows; ++r) max_err = std::max(max_err, std::fabs(expected[r] - pairs[r]));
  std::printf("rope after permutation: max abs error %.3g over %lld values\n", max_err,
              static_cast<long long>(rows));
  EXPECT_LT(max_err, 1e-5);

  // Inverse: (i, d/2 + i) -> (2i, 2i+1) undone by reading the pairs back into halves.
  std::vector<float> inverse(w.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t j = 0; j < d / 2; ++j)
      for (int64_t s = 0; s < 2; ++s)
        std::copy_n(wp.begin() + (h * d + 2 * j + s) * cols, cols, inverse.begin() + (h * d + s * d / 2 + j) * cols);
  EXPECT_EQ(inverse, w);
}

TEST(DenseArchTransforms, BaichuanSplitsWPackAndNormalisesTheHead) {
  json cfg = preset_json("baichuan2-7b");
  cfg["hidden_size"] = 8;
  cfg["num_attention_heads"] = 2;
  cfg["intermediate_size"] = 4;
  cfg["num_hidden_layers"] = 1;
  cfg["vocab_size"] = 3;
  const ModelConfig c = config_from_hf(cfg);
  const auto plans = find_arch_by_gguf("baichuan")->gguf_tensors(c);
  auto plan = [&](const std::string& name) {
    for (const auto& p : plans)
      if (p.name == name) return p;
    throw std::runtime_error("no plan " + name);
  };
  // W_pack [24, 8] whose value is its row index.
  std::vector<float> packed(24 * 8);
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<float>(i / 8);
  auto rows_of = [](const std::vector<float>& t) {
    std::vector<float> r;
    for (size_t i = 0; i < t.size(); i += 8) r.push_back(t[i]);
    return r;
  };
  EXPECT_EQ(rows_of(plan("blk.0.attn_q.weight").transform({&packed})),
            (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  EXPECT_EQ(rows_of(plan("blk.0.attn_k.weight").transform({&packed})),
            (std::vector<float>{8, 10, 9, 11, 12, 14, 13, 15}));
  EXPECT_EQ(rows_of(plan("blk.0.attn_v.weight").transform({&packed})),
            (std::vector<float>{16, 17, 18, 19, 20, 21, 22, 23}));

  // Baichuan 2's NormHead: each row of output.weight has unit L2 norm, direction unchanged.
  std::vector<float> head(3 * 8);
  for (size_t i = 0; i < head.size(); ++i) head[i] = static_cast<float>(i % 5) - 1.5f;
  const std::vector<float> out = plan("output.weight").transform({&head});
  for (int r = 0; r < 3; ++r) {
    double norm = 0, dot = 0, src_norm = 0;
    for (int i = 0; i < 8; ++i) {
      norm += double(out[r * 8 + i]) * out[r * 8 + i];
      dot += double(out[r * 8 + i]) * head[r * 8 + i];
      src_norm += double(head[r * 8 + i]) * head[r * 8 + i];
    }
    EXPECT_NEAR(norm, 1.0, 1e-6);
    EXPECT_NEAR(dot, std::sqrt(src_norm), 1e-5);
  }
}

}  // namespace
}  // namespace dragon
