// open_model: a good GGUF / HF model opens; every kind of mismatch between the tensors and the
// config is reported with the file and the tensor named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/arch.h"
#include "models/model_file.h"
#include "synth/preset.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A tiny qwen3 config (no tokenizer: the vocabulary size comes from token_embd.weight).
json tiny_hf_config() {
  json hf = json::parse(find_preset("qwen3-0.6b")->config_json);
  hf["vocab_size"] = 32;
  hf["hidden_size"] = 16;
  hf["intermediate_size"] = 24;
  hf["num_hidden_layers"] = 2;
  hf["num_attention_heads"] = 2;
  hf["num_key_value_heads"] = 1;
  hf["head_dim"] = 8;
  hf["bos_token_id"] = 1;
  hf["eos_token_id"] = 2;
  return hf;
}

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::BF16;  // for HF files
};

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dragon_model_file_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    config_ = config_from_hf(tiny_hf_config());
    spec_ = find_arch_by_gguf("qwen3");
    for (const auto& p : spec_->gguf_tensors(config_)) gguf_tensors_.push_back({p.name, p.shape});
    for (const auto& s : spec_->hf_tensors(config_)) hf_tensors_.push_back({s.name, s.shape});
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes a GGUF with the given tensors (zero-filled F32); `arch` replaces general.architecture.
  std::string write_gguf(const std::vector<Tensor>& tensors, const std::string& arch = "qwen3",
                         const std::string& drop_key = "") {
    GGUFWriter w;
    w.set("general.architecture", GGUFValue::str(arch));
    ModelConfig c = config_;
    c.arch = arch;
    if (drop_key.empty()) spec_->write_gguf_metadata(c, w);
    else write_metadata_except(c, w, drop_key);
    for (const Tensor& t : tensors) w.add_tensor(t.name, DType::F32, t.shape);
    const std::string path = (dir_ / ("m" + std::to_string(counter_++) + ".gguf")).string();
    w.write(path, [&](size_t i) {
      int64_t n = 1;
      for (int64_t d : tensors[i].shape) n *= d;
      return std::vector<uint8_t>(static_cast<size_t>(n) * 4, 0);
    });
    return path;
  }

  // The family's metadata without `drop_key` (written through a scratch GGUF and read back).
  void write_metadata_except(const ModelConfig& c, GGUFWriter& w, const std::string& drop_key) {
    GGUFWriter scratch;
    spec_->write_gguf_metadata(c, scratch);
    scratch.write((dir_ / "scratch.gguf").string(), [](size_t) { return std::vector<uint8_t>(); });
    const auto f = GGUFFile::open((dir_ / "scratch.gguf").string());
    for (const auto& [key, value] : f->metadata())
      if (key != drop_key) w.set(key, value);
  }

  std::string write_hf(const std::vector<Tensor>& tensors, const json& config) {
    const fs::path d = dir_ / ("hf" + std::to_string(counter_++));
    fs::create_directories(d);
    std::ofstream(d / "config.json") << config.dump();
    SafetensorsWriter w;
    for (const Tensor& t : tensors) w.add_tensor(t.name, t.dtype, t.shape);
    w.write_dir(d.string(), [&](size_t i) {
      int64_t n = 1;
      for (int64_t d : tensors[i].shape) n *= d;
      return std::vector<uint8_t>(static_cast<size_t>(dtype_row_bytes(tensors[i].dtype, n)), 0);
    });
    return d.string();
  }

  // Expects open_model(path) to fail with a message containing each of `parts`.
  void expect_error(const std::string& path, std::initializer_list<std::string> parts) {
    try {
      open_model(path);
      ADD_FAILURE() << path << " opened";
    } catch (const Error& e) {
      const std::string message = e.what();
      std::printf("  %s\n", message.c_str());
      for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << message << "\nlacks: " << p;
    }
  }

  fs::path dir_;
  ModelConfig config_;
  const ArchSpec* spec_ = nullptr;
  std::vector<Tensor> gguf_tensors_, hf_tensors_;
  int counter_ = 0;
};

TEST_F(ModelFileTest, GoodFilesOpen) {
  const OpenedModel g = open_model(write_gguf(gguf_tensors_));
  EXPECT_EQ(g.format, ModelFormat::GGUF);
  EXPECT_EQ(g.config.vocab_size, 32);
  EXPECT_EQ(g.config.head_dim, 8);
  EXPECT_TRUE(g.config.tie_word_embeddings);
  EXPECT_EQ(g.tensors.size(), gguf_tensors_.size());
  const OpenedModel h = open_model(write_hf(hf_tensors_, tiny_hf_config()));
  EXPECT_EQ(h.format, ModelFormat::HF);
  EXPECT_EQ(h.config.hidden_size, 16);
  EXPECT_NE(h.find_tensor("model.layers.1.self_attn.k_norm.weight"), nullptr);
}

// The common GGUF keys written for a config read back as the same config (rope scaling included).
TEST_F(ModelFileTest, GgufMetadataRoundTripWithYarn) {
  json hf = tiny_hf_config();
  hf["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768},
                        {"beta_fast", 16.0}};
  hf["max_position_embeddings"] = 131072;
  hf["rms_norm_eps"] = 1e-5;
  config_ = config_from_hf(hf);
  const OpenedModel g = open_model(write_gguf(gguf_tensors_));
  json a = config_to_json(config_), b = config_to_json(g.config);
  a.erase("name");
  b.erase("name");
  a.erase("bos_token_id"), a.erase("eos_token_id"), b.erase("bos_token_id"), b.erase("eos_token_id");  // no tokenizer here
  EXPECT_EQ(a.dump(), b.dump());
  EXPECT_EQ(g.config.rope_scaling.type, "yarn");
  EXPECT_EQ(g.config.rope_scaling.original_context_length, 32768);
  EXPECT_DOUBLE_EQ(g.config.rope_scaling.beta_fast, 16.0);
  EXPECT_DOUBLE_EQ(g.config.norm_eps, 1e-5);
}

TEST_F(ModelFileTest, GgufWrongShape) {
  auto tensors = gguf_tensors_;
  for (auto& t : tensors)
    if (t.name == "blk.1.attn_q.weight") t.shape = {8, 16};
  const std::string path = write_gguf(tensors);
  expect_error(path, {path, "tensor blk.1.attn_q.weight has shape [8, 16], expected [16, 16] for this config"});
}

TEST_F(ModelFileTest, GgufMissingTensor) {
  auto tensors = gguf_tensors_;
  std::erase_if(tensors, [](const Tensor& t) { return t.name == "blk.0.ffn_up.weight"; });
  expect_error(write_gguf(tensors), {"tensor blk.0.ffn_up.weight is missing"});
}

TEST_F(ModelFileTest, GgufUnexpectedTensor) {
  auto tensors = gguf_tensors_;
  tensors.push_back({"blk.7.attn_q.weight", {16, 16}});
  expect_error(write_gguf(tensors), {"unexpected tensor blk.7.attn_q.weight"});
}

TEST_F(ModelFileTest, GgufUnknownArchitecture) {
  expect_error(write_gguf(gguf_tensors_, "frobnicator"), {"unsupported architecture \"frobnicator\""});
}

TEST_F(ModelFileTest, GgufMissingKey) {
  const std::string path = write_gguf(gguf_tensors_, "qwen3", "qwen3.block_count");
  expect_error(path, {path, "qwen3.block_count"});
}

TEST_F(ModelFileTest, HfWrongShapeMissingAndBadConfig) {
  auto tensors = hf_tensors_;
  for (auto& t : tensors)
    if (t.name == "model.layers.0.self_attn.k_proj.weight") t.shape = {16, 16};
  expect_error(write_hf(tensors, tiny_hf_config()),
               {"tensor model.layers.0.self_attn.k_proj.weight has shape [16, 16], expected [8, 16]"});
  tensors = hf_tensors_;
  std::erase_if(tensors, [](const Tensor& t) { return t.name == "model.norm.weight"; });
  expect_error(write_hf(tensors, tiny_hf_config()), {"tensor model.norm.weight is missing"});
  json bad = tiny_hf_config();
  bad["num_hidden_layers"] = 100000;
  expect_error(write_hf(hf_tensors_, bad), {"config.json", "num_hidden_layers"});
}

TEST_F(ModelFileTest, HfFp8NeedsItsScales) {
  auto tensors = hf_tensors_;
  for (auto& t : tensors)
    if (t.name == "model.layers.0.mlp.up_proj.weight") t.dtype = DType::F8_E4M3;
  expect_error(write_hf(tensors, tiny_hf_config()), {"model.layers.0.mlp.up_proj.weight has no"});
  tensors.push_back({"model.layers.0.mlp.up_proj.weight_scale_inv", {2, 1}, DType::F32});
  expect_error(write_hf(tensors, tiny_hf_config()), {"up_proj.weight_scale_inv has shape [2, 1], expected [1, 1]"});
  tensors.back().shape = {1, 1};
  EXPECT_NO_THROW(open_model(write_hf(tensors, tiny_hf_config())));
}

TEST_F(ModelFileTest, NotAModel) {
  expect_error((dir_ / "nothing-here").string(), {"no such file"});
  fs::create_directories(dir_ / "empty");
  expect_error((dir_ / "empty").string(), {"config.json"});
}

}  // namespace
}  // namespace dragon
