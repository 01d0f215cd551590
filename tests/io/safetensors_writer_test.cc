// SafetensorsWriter: single-file and sharded round trips through SafetensorsFile, the layout
// rules (8-byte header padding, aligned contiguous tensors), and failures leaving no debris.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/safetensors.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

class SafetensorsWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("dragon_st_writer_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

struct Spec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
};

// Deterministic, tensor-specific bytes, so a tensor read back from the wrong place shows up.
std::vector<uint8_t> pattern_bytes(size_t tensor_index, uint64_t nbytes) {
  std::vector<uint8_t> bytes(nbytes);
  for (uint64_t j = 0; j < nbytes; ++j) bytes[j] = static_cast<uint8_t>(tensor_index * 31 + j * 7 + (j >> 8));
  return bytes;
}

// Mixed element sizes in an order that would misalign the F32/I64 data if written as added.
const std::vector<Spec> kSpecs = {
    {"model.embed_tokens.weight", DType::BF16, {7, 3}},
    {"model.layers.0.mlp.gate.weight", DType::F8_E4M3, {5, 3}},
    {"model.layers.0.mlp.gate.weight_scale_inv", DType::F32, {1, 1}},
    {"model.norm.weight", DType::F32, {3}},
    {"position_ids", DType::I64, {1, 5}},
    {"flags", DType::BOOL, {2}},
    {"lm_head.weight", DType::F16, {7, 3}},
    {"model.layers.1.mlp.up_proj.weight", DType::F64, {4, 4}},
};

SafetensorsWriter make_writer(const std::vector<Spec>& specs) {
  SafetensorsWriter writer;
  for (const Spec& s : specs) writer.add_tensor(s.name, s.dtype, s.shape);
  writer.set_metadata("source", "dragon test");
  return writer;
}

uint64_t expected_bytes(const Spec& s) { return dtype_row_bytes(s.dtype, checked_numel(s.shape, s.name)); }

// Checks one file's header padding and that each tensor starts aligned to its element size.
void check_layout(const SafetensorsFile& file, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  EXPECT_EQ(header_len % 8, 0u) << path;
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  EXPECT_EQ(header.find_last_not_of(' ') + 1, header.find_last_of('}') + 1) << "padding must be spaces";
  uint64_t expected_offset = 0;
  const uint8_t* data_start = file.tensors().empty() ? nullptr : file.tensors().front().data;
  for (const TensorView& t : file.tensors()) {
    const uint64_t offset = static_cast<uint64_t>(t.data - data_start);
    EXPECT_EQ(offset, expected_offset) << t.name << ": tensors must be contiguous";
    EXPECT_EQ((8 + header_len + offset) % dtype_info(t.dtype)->block_bytes, 0u) << t.name << " misaligned";
    expected_offset = offset + t.nbytes;
  }
}

TEST_F(SafetensorsWriterTest, SingleFileRoundTrip) {
  std::vector<int> calls(kSpecs.size(), 0);
  make_writer(kSpecs).write_dir(dir_.string(), [&](size_t i) {
    ++calls[i];
    return pattern_bytes(i, expected_bytes(kSpecs[i]));
  });
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i], 1) << "producer calls for tensor " << i;
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors.index.json"));

  const std::string path = (dir_ / "model.safetensors").string();
  const auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->tensors().size(), kSpecs.size());
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const TensorView* t = file->find_tensor(kSpecs[i].name);
    ASSERT_NE(t, nullptr) << kSpecs[i].name;
    EXPECT_EQ(t->dtype, kSpecs[i].dtype);
    EXPECT_EQ(t->shape, kSpecs[i].shape);
    const std::vector<uint8_t> expected = pattern_bytes(i, expected_bytes(kSpecs[i]));
    ASSERT_EQ(t->nbytes, expected.size());
    EXPECT_EQ(std::memcmp(t->data, expected.data(), expected.size()), 0) << kSpecs[i].name;
  }
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("source"), "dragon test");
  check_layout(*file, path);
  for (const auto& item : fs::directory_iterator(dir_))
    EXPECT_EQ(item.path().filename().string().find(".tmp"), std::string::npos) << "leftover " << item.path();
}

TEST_F(SafetensorsWriterTest, ShardedRoundTripWithIndex) {
  const uint64_t max_shard = 64;  // forces several shards; the 128-byte F64 tensor gets its own
  make_writer(kSpecs).write_dir(dir_.string(), [&](size_t i) { return pattern_bytes(i, expected_bytes(kSpecs[i])); },
                                max_shard);
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors"));
  std::ifstream index_in(dir_ / "model.safetensors.index.json");
  ASSERT_TRUE(index_in.good());
  const nlohmann::json index = nlohmann::json::parse(index_in);

  uint64_t total = 0;
  for (const Spec& s : kSpecs) total += expected_bytes(s);
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  const auto& weight_map = index["weight_map"];
  ASSERT_EQ(weight_map.size(), kSpecs.size());

  std::set<std::string> shard_names;
  for (const auto& [name, file] : weight_map.items()) shard_names.insert(file.get<std::string>());
  const size_t n = shard_names.size();
  std::printf("  %zu tensors, %llu bytes -> %zu shards of <= %llu bytes\n", kSpecs.size(),
              static_cast<unsigned long long>(total), n, static_cast<unsigned long long>(max_shard));
  EXPECT_GE(n, 3u);
  for (size_t s = 0; s < n; ++s)
    EXPECT_TRUE(shard_names.count(fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, n))) << s;

  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const std::string shard_path = (dir_ / weight_map[kSpecs[i].name].get<std::string>()).string();
    const auto shard = SafetensorsFile::open(shard_path);
    check_layout(*shard, shard_path);
    const TensorView* t = shard->find_tensor(kSpecs[i].name);
    ASSERT_NE(t, nullptr) << kSpecs[i].name << " not in " << shard_path;
    const std::vector<uint8_t> expected = pattern_bytes(i, expected_bytes(kSpecs[i]));
    EXPECT_EQ(std::memcmp(t->data, expected.data(), expected.size()), 0) << kSpecs[i].name;
    uint64_t shard_bytes = 0;
    for (const TensorView& v : shard->tensors()) shard_bytes += v.nbytes;
    EXPECT_TRUE(shard_bytes <= max_shard || shard->tensors().size() == 1) << shard_path << " holds " << shard_bytes;
  }
}

TEST_F(SafetensorsWriterTest, RewriteRemovesStaleLayout) {
  const auto produce = [&](size_t i) { return pattern_bytes(i, expected_bytes(kSpecs[i])); };
  make_writer(kSpecs).write_dir(dir_.string(), produce, 64);
  ASSERT_TRUE(fs::exists(dir_ / "model.safetensors.index.json"));
  std::ofstream(dir_ / "config.json") << "{}";  // not ours: must survive
  make_writer(kSpecs).write_dir(dir_.string(), produce);
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(dir_)) names.push_back(item.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"config.json", "model.safetensors"}));
}

TEST_F(SafetensorsWriterTest, ProducerSizeMismatchFailsWithoutDebris) {
  try {
    make_writer(kSpecs).write_dir(dir_.string(), [&](size_t i) {
      return pattern_bytes(i, expected_bytes(kSpecs[i]) - (kSpecs[i].name == "model.norm.weight" ? 1 : 0));
    });
    ADD_FAILURE() << "write_dir accepted a short tensor";
  } catch (const Error& e) {
    std::printf("  error: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("tensor 'model.norm.weight'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir_)) << "a failed write must leave nothing behind";
}

TEST_F(SafetensorsWriterTest, RejectsBadTensors) {
  SafetensorsWriter writer;
  writer.add_tensor("a", DType::F32, {2});
  EXPECT_THROW(writer.add_tensor("a", DType::F32, {2}), Error);                       // duplicate
  EXPECT_THROW(writer.add_tensor("q", DType::Q4_K, {256}), Error);                    // GGML block type
  EXPECT_THROW(writer.add_tensor("bad\xff", DType::F32, {2}), Error);                 // invalid UTF-8
  EXPECT_THROW(writer.add_tensor("big", DType::F32, {int64_t{1} << 62, 4}), Error);   // overflow
  EXPECT_THROW(writer.add_tensor("__metadata__", DType::F32, {1}), Error);            // reserved
}

TEST_F(SafetensorsWriterTest, EmptyTensorsAndNoTensors) {
  SafetensorsWriter writer;
  writer.add_tensor("empty", DType::F32, {0, 4});
  writer.add_tensor("scalar", DType::I32, {});
  writer.write_dir(dir_.string(), [](size_t i) { return std::vector<uint8_t>(i == 0 ? 0 : 4, 9); });
  const auto file = SafetensorsFile::open((dir_ / "model.safetensors").string());
  ASSERT_NE(file->find_tensor("scalar"), nullptr);
  EXPECT_EQ(file->find_tensor("scalar")->data[3], 9);
  EXPECT_EQ(file->find_tensor("empty")->nbytes, 0u);

  SafetensorsWriter().write_dir((dir_ / "none").string(), [](size_t) { return std::vector<uint8_t>(); });
  EXPECT_TRUE(SafetensorsFile::open((dir_ / "none" / "model.safetensors").string())->tensors().empty());
}

}  // namespace
}  // namespace dragon
