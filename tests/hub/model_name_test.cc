// Pulled-model names, cache paths, GGUF/safetensors file choice and the SHA-256 used on downloads.
#include <gtest/gtest.h>

#include <cstdlib>

#include "hub/hub.h"
#include "hub/model_name.h"
#include "hub/sha256.h"
#include "util/error.h"

namespace dragon::hub {
namespace {

TEST(ModelName, ParsesOrgNameAndFile) {
  const ModelName m = parse_model_name("Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0.gguf");
  EXPECT_EQ(m.org, "Qwen");
  EXPECT_EQ(m.name, "Qwen3-0.6B-GGUF");
  EXPECT_EQ(m.file, "Qwen3-0.6B-Q8_0.gguf");
  EXPECT_EQ(m.repo(), "Qwen/Qwen3-0.6B-GGUF");
  EXPECT_EQ(parse_model_name("deepseek-ai/DeepSeek-V3").file, "");
}

TEST(ModelName, RejectsNamesThatLeaveTheCache) {
  for (const char* bad : {"", "../x", "a/..", "a/../../b", "/etc/passwd", "~/x", "a/b/c", "noslash", "a/.hidden", "a/b:../c",
                          "a/b c", "a/b\\c", "a/b:", "a/", "/b", "a/-rf"}) {
    EXPECT_THROW(parse_model_name(bad), Error) << bad;
    EXPECT_FALSE(try_parse_model_name(bad).has_value()) << bad;
  }
}

// The paths a hub lists are joined under model_dir(): a hostile or broken server must not make
// pull write outside the cache ("../", absolute paths, backslashes, NUL bytes).
TEST(HubPaths, RejectsPathsThatLeaveTheModelDirectory) {
  for (const char* good : {"config.json", "model-00001-of-00002.safetensors", "sub/dir/m-Q4_K_M.gguf", "a.b-c_d"})
    EXPECT_TRUE(is_safe_hub_path(good)) << good;
  for (const std::string& bad : std::vector<std::string>{"", "../x.gguf", "a/../../x.gguf", "..", "/etc/passwd", "\\\\server\\x", "a\\..\\b",
                                std::string("x\0/../../y", 11), "a\nb", "sub/..\\x"})
    EXPECT_FALSE(is_safe_hub_path(bad)) << bad;
  // select_files keeps GGUFs in subfolders, so the check after it is what stops "../".
  const std::vector<RemoteFile> hostile = {{"../../../outside.gguf"}};
  const std::vector<RemoteFile> picked = select_files(hostile, parse_model_name("a/b"));
  ASSERT_EQ(picked.size(), 1u);
  EXPECT_FALSE(is_safe_hub_path(picked[0].path));
}

TEST(ModelName, CachePathsFollowDragonHome) {
  const char* old = std::getenv("DRAGON_HOME");
  const std::string saved = old ? old : "";
  const char* old_home = std::getenv("HOME");
  const std::string saved_home = old_home ? old_home : "";
  setenv("DRAGON_HOME", "/tmp/dragon-home-test", 1);
  EXPECT_EQ(model_dir(parse_model_name("org/name:f.gguf")).string(), "/tmp/dragon-home-test/models/org/name");
  unsetenv("DRAGON_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(models_root().string(), "/home/u/.cache/dragon/models");
  if (old) setenv("DRAGON_HOME", saved.c_str(), 1);
  if (old_home) setenv("HOME", saved_home.c_str(), 1);
}

TEST(SelectFiles, SafetensorsRepoTakesWeightsConfigAndTokenizer) {
  const std::vector<RemoteFile> all = {{"config.json"}, {"README.md"}, {"model-00001-of-00002.safetensors"},
                                       {"model-00002-of-00002.safetensors"}, {"model.safetensors.index.json"},
                                       {"tokenizer.json"}, {"original/consolidated.pth"}, {"pytorch_model.bin"}};
  std::vector<std::string> got;
  for (const RemoteFile& f : select_files(all, parse_model_name("a/b"))) got.push_back(f.path);
  EXPECT_EQ(got, (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                           "model.safetensors.index.json", "tokenizer.json"}));
}

TEST(SelectFiles, GgufRepoTakesTheNamedOrPreferredFile) {
  const std::vector<RemoteFile> all = {{"m-F16.gguf"}, {"m-Q8_0.gguf"}, {"m-Q4_K_M.gguf"}, {"README.md"}};
  EXPECT_EQ(select_files(all, parse_model_name("a/b")).at(0).path, "m-Q4_K_M.gguf");
  EXPECT_EQ(select_files(all, parse_model_name("a/b:m-Q8_0.gguf")).at(0).path, "m-Q8_0.gguf");
  EXPECT_THROW(select_files(all, parse_model_name("a/b:m-Q2_K.gguf")), Error);
  EXPECT_THROW(select_files({{"README.md"}}, parse_model_name("a/b")), Error);
}

TEST(Sha256, KnownVectors) {
  auto hash = [](const std::string& s) {
    Sha256 h;
    h.update(s.data(), s.size());
    return h.hex();
  };
  EXPECT_EQ(hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Fed in uneven pieces, the same as in one piece.
  const std::string million(1000000, 'a');
  Sha256 h;
  for (size_t i = 0; i < million.size(); i += 77) h.update(million.data() + i, std::min<size_t>(77, million.size() - i));
  EXPECT_EQ(h.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace dragon::hub
