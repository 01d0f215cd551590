// Weights from an HF directory go through the family's GGUF plans at load: a Llama-architecture
// model written once as HF safetensors (BF16) and once as GGUF (the plans applied here, in f32)
// must give the same logits, which checks the q/k permutation at load together with the
// adjacent-pair rope. Plain renames must stay views into the safetensors map.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/arch.h"
#include "models/arch_common.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "runtime/weights.h"
#include "synth/preset.h"
#include "tensor/half.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

class WeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dragon_weights_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    hf_ = nlohmann::json::parse(find_preset("deepseek-llm-7b")->config_json);
    hf_["vocab_size"] = 48;
    hf_["hidden_size"] = 64;
    hf_["intermediate_size"] = 96;
    hf_["num_hidden_layers"] = 2;
    hf_["num_attention_heads"] = 4;
    hf_["num_key_value_heads"] = 2;
    hf_["max_position_embeddings"] = 64;
    hf_["bos_token_id"] = 1;
    hf_["eos_token_id"] = 2;
    config_ = config_from_hf(hf_);
    spec_ = find_arch_by_gguf("llama");
    // Random HF tensors, rounded to BF16 once so both files hold exactly the same values.
    uint32_t seed = 1;
    for (const HFTensorSpec& t : spec_->hf_tensors(config_)) {
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      std::mt19937 rng(seed++);
      const bool norm = t.init == Init::NormWeight;
      std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : static_cast<float>(t.std));
      std::vector<float> v(n);
      for (float& x : v) x = bf16_to_f32(f32_to_bf16(dist(rng)));
      values_[t.name] = std::move(v);
      shapes_[t.name] = t.shape;
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string write_hf() {
    const fs::path d = dir_ / "hf";
    fs::create_directories(d);
    std::ofstream(d / "config.json") << hf_.dump();
    SafetensorsWriter w;
    std::vector<std::string> names;
    for (const auto& [name, v] : values_) {
      w.add_tensor(name, DType::BF16, shapes_[name]);
      names.push_back(name);
    }
    w.write_dir(d.string(), [&](size_t i) {
      const auto& v = values_[names[i]];
      std::vector<uint8_t> bytes(v.size() * 2);
      for (size_t j = 0; j < v.size(); ++j) {
        const uint16_t b = f32_to_bf16(v[j]);
        std::memcpy(bytes.data() + 2 * j, &b, 2);
      }
      return bytes;
    });
    return d.string();
  }

  std::string write_gguf() {
    GGUFWriter w;
    w.set("general.architecture", GGUFValue::str("llama"));
    ModelConfig c = config_;
    spec_->write_gguf_metadata(c, w);
    const auto plans = spec_->gguf_tensors(config_);
    for (const auto& p : plans) w.add_tensor(p.name, DType::F32, p.shape);
    const std::string path = (dir_ / "model.gguf").string();
    w.write(path, [&](size_t i) {
      const auto& p = plans[i];
      std::vector<const std::vector<float>*> sources;
      for (const auto& s : p.sources) sources.push_back(&values_.at(s));
      const std::vector<float> data = p.transform ? p.transform(sources) : *sources[0];
      std::vector<uint8_t> bytes(data.size() * 4);
      std::memcpy(bytes.data(), data.data(), bytes.size());
      return bytes;
    });
    return path;
  }

  fs::path dir_;
  nlohmann::json hf_;
  ModelConfig config_;
  const ArchSpec* spec_ = nullptr;
  std::map<std::string, std::vector<float>> values_;
  std::map<std::string, std::vector<int64_t>> shapes_;
};

TEST_F(WeightsTest, HfPlansPermuteQkAndKeepPlainTensorsAsViews) {
  const OpenedModel opened = open_model(write_hf());
  const Weights weights(opened);
  const TensorView& q = weights.get("blk.0.attn_q.weight");
  EXPECT_EQ(q.dtype, DType::F32) << "a transformed tensor is converted to f32";
  const std::vector<float> expected =
      arch::permute_qk_rows(values_["model.layers.0.self_attn.q_proj.weight"], 4 * 16, 64, 4);
  EXPECT_EQ(0, std::memcmp(q.data, expected.data(), expected.size() * 4));
  const TensorView& v = weights.get("blk.0.attn_v.weight");
  EXPECT_EQ(v.dtype, DType::BF16) << "a plain rename stays a view";
  EXPECT_EQ(v.data, opened.find_tensor("model.layers.0.self_attn.v_proj.weight")->data);
  std::printf("  %zu weights, %zu converted at load\n", weights.size(), weights.converted_count());
  EXPECT_EQ(weights.converted_count(), 4u) << "q and k of 2 layers";
  EXPECT_THROW(weights.get("blk.9.attn_q.weight"), Error);
}

TEST_F(WeightsTest, HfAndGgufOfOneLlamaModelGiveTheSameLogits) {
  const std::vector<int32_t> tokens = {5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  ThreadPool pool(2);
  auto from_hf = build_model(open_model(write_hf()));
  auto from_gguf = build_model(open_model(write_gguf()));
  KVCache a(from_hf->config(), 16, 1, CacheType::F32), b(from_gguf->config(), 16, 1, CacheType::F32);
  const Activations la = prompt_logits(*from_hf, tokens, a, pool), lb = prompt_logits(*from_gguf, tokens, b, pool);
  double num = 0, den = 0;
  for (size_t i = 0; i < la.data.size(); ++i) {
    num += std::pow(double(la.data[i]) - lb.data[i], 2);
    den += std::pow(double(lb.data[i]), 2);
  }
  const double rel = std::sqrt(num / den);
  std::printf("  llama HF (BF16, permuted at load) vs GGUF (F32, permuted by the plans): rel RMSE %.3e\n", rel);
  EXPECT_LT(rel, 1e-5);
}

// ---------------------------------------------------------------------------------------------
TEST(KVCacheTest, StoresF32ExactlyAndF16Rounded) {
  ModelConfig c;
  c.n_layers = 2;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  for (CacheType type : {CacheType::F32, CacheType::F16}) {
    KVCache cache(c, 3, 2, type);
    std::vector<float> k(8), v(8);
    for (int i = 0; i < 8; ++i) k[i] = 0.1f * i + 1.0f / 3, v[i] = -0.2f * i;
    EXPECT_THROW(cache.store(1, 1, 2, k.data(), v.data()), Error) << "a position without a block";
    Batch b;
    for (int64_t p = 0; p < 3; ++p) b.add(1, p, 1, false);
    cache.begin_batch(b);
    cache.store(1, 1, 2, k.data(), v.data());
    const KVSpan s = cache.span(1, 1, 1);  // kv head 1 = values 4..7
    const int64_t at = s.row_offset(2, s.k_stride);
    for (int i = 0; i < 4; ++i) {
      const float got = type == CacheType::F32 ? static_cast<const float*>(s.k)[at + i]
                                               : f16_to_f32(static_cast<const uint16_t*>(s.k)[at + i]);
      const float want = type == CacheType::F32 ? k[4 + i] : f16_to_f32(f32_to_f16(k[4 + i]));
      EXPECT_EQ(got, want);
    }
  }
}

TEST(KVCacheTest, BatchesMustContinueTheirSequence) {
  ModelConfig c;
  c.n_layers = 1;
  c.n_kv_heads = 1;
  c.head_dim = 2;
  KVCache cache(c, 4, 2, CacheType::F32);
  Batch b;
  b.add(1, 0, 0, true);
  b.add(1, 1, 0, true);
  b.add(1, 0, 1, true);
  cache.begin_batch(b);
  EXPECT_EQ(cache.length(0), 2);
  EXPECT_EQ(cache.length(1), 1);
  Batch gap;
  gap.add(1, 3, 0, true);
  EXPECT_THROW(cache.begin_batch(gap), Error);
  EXPECT_EQ(cache.length(0), 2) << "a rejected batch leaves the cache as it was";
  Batch rewind;
  rewind.add(1, 1, 0, true);
  cache.begin_batch(rewind);
  EXPECT_EQ(cache.length(0), 2);
  Batch full;
  full.add(1, 2, 0, true);
  full.add(1, 3, 0, true);
  cache.begin_batch(full);
  Batch past;
  past.add(1, 4, 0, true);
  EXPECT_THROW(cache.begin_batch(past), Error);
  cache.clear(0);
  EXPECT_EQ(cache.length(0), 0);
}

}  // namespace
}  // namespace dragon
