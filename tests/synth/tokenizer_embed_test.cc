// Tokenizers inside synthetic models: the GGUF tokenizer.ggml.* written from a tokenizer.json
// must tokenize like that tokenizer.json, and the tokenizer.json written from a llama.cpp vocab
// must tokenize like the vocab. Both sides are loaded with dragon's tokenizer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "io/gguf.h"
#include "synth/tokenizer_embed.h"
#include "synth/tokenizer_to_hf.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTexts = {
    "Hello world! How are you doing today?",
    "  leading spaces and\ttabs\nnewlines\n\n",
    "数字 12345 and 3.14159, émigré café naïve",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n</think>",
    "def f(x):\n    return x ** 2  # comment",
    "Ünïcödé — “quotes” and emoji 🙂🚀",
};

class TokenizerEmbed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::tokenizers_dir() / "qwen3" / "tokenizer.json"))
      FAIL() << "no tokenizers in " << test::tokenizers_dir() << " (run scripts/setup.sh)";
    dir_ = fs::temp_directory_path() / ("dragon_tok_embed_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A GGUF holding only the embedded tokenizer.
  std::unique_ptr<GGUFFile> embedded(const std::string& tokenizer, const ModelConfig& c) {
    GGUFWriter w;
    w.set("general.architecture", GGUFValue::str("qwen3"));
    embed_gguf_tokenizer(tokenizer, test::tokenizers_dir().string(), c, w);
    const std::string path = (dir_ / (std::to_string(n_++) + ".gguf")).string();
    w.write(path, [](size_t) { return std::vector<uint8_t>(); });
    return GGUFFile::open(path);
  }

  static void expect_same_ids(const Tokenizer& a, const Tokenizer& b, const char* what) {
    size_t total = 0;
    for (const std::string& text : kTexts) {
      const auto ia = a.encode(text), ib = b.encode(text);
      EXPECT_EQ(ia, ib) << what << ": " << text;
      total += ia.size();
    }
    std::printf("  %s: %zu texts, %zu tokens, identical ids\n", what, kTexts.size(), total);
  }

  fs::path dir_;
  int n_ = 0;
};

TEST_F(TokenizerEmbed, Qwen3JsonToGguf) {
  ModelConfig c;
  c.vocab_size = 151936;
  c.bos_token_id = 151643;
  c.eos_token_id = 151645;
  const auto f = embedded("qwen3", c);
  EXPECT_EQ(f->get("tokenizer.ggml.model").as_string(), "gpt2");
  EXPECT_EQ(f->get("tokenizer.ggml.pre").as_string(), "qwen2");
  const auto& tokens = f->get("tokenizer.ggml.tokens").as_array();
  const auto& types = f->get("tokenizer.ggml.token_type").as_array();
  ASSERT_EQ(tokens.size(), 151936u);
  EXPECT_EQ(tokens[151645].as_string(), "<|im_end|>");
  EXPECT_EQ(types[151645].as_int(), 3);  // control
  EXPECT_EQ(tokens[151667].as_string(), "<think>");
  EXPECT_EQ(types[151667].as_int(), 4);  // user-defined (not special, does not look special)
  EXPECT_EQ(tokens[151935].as_string(), "[PAD151935]");
  EXPECT_EQ(types[151935].as_int(), 5);
  EXPECT_EQ(types[100].as_int(), 1);
  EXPECT_EQ(f->get("tokenizer.ggml.eos_token_id").as_int(), 151645);
  EXPECT_EQ(f->get("tokenizer.ggml.bos_token_id").as_int(), 151643);  // from config.json, as SpecialVocab does
  EXPECT_EQ(f->get("tokenizer.ggml.padding_token_id").as_int(), 151643);
  EXPECT_FALSE(f->get("tokenizer.ggml.add_bos_token").as_bool());
  EXPECT_GT(f->get("tokenizer.ggml.merges").as_array().size(), 100000u);
  EXPECT_NE(f->find("tokenizer.chat_template"), nullptr);

  const auto from_gguf = load_tokenizer_gguf(*f);
  const auto from_json = load_tokenizer_files((test::tokenizers_dir() / "qwen3").string());
  expect_same_ids(*from_gguf, *from_json, "qwen3 tokenizer.json vs embedded GGUF");
}

TEST_F(TokenizerEmbed, DeepSeekV3JsonToGguf) {
  ModelConfig c;
  c.vocab_size = 129280;
  c.bos_token_id = 0;
  c.eos_token_id = 1;
  const auto f = embedded("deepseek-v3", c);
  EXPECT_EQ(f->get("tokenizer.ggml.pre").as_string(), "deepseek-v3");
  EXPECT_EQ(f->get("tokenizer.ggml.tokens").as_array().size(), 129280u);
  EXPECT_TRUE(f->get("tokenizer.ggml.add_bos_token").as_bool());
  const auto from_gguf = load_tokenizer_gguf(*f);
  const auto from_json = load_tokenizer_files((test::tokenizers_dir() / "deepseek-v3").string());
  expect_same_ids(*from_gguf, *from_json, "deepseek-v3 tokenizer.json vs embedded GGUF");
}

TEST_F(TokenizerEmbed, VocabTooBigForModelIsAnError) {
  ModelConfig c;
  c.vocab_size = 1000;
  EXPECT_THROW(embedded("qwen3", c), Error);
  EXPECT_THROW(embedded("gguf:llama-spm", c), Error);
  EXPECT_THROW(embedded("no-such-tokenizer", c), Error);
}

TEST_F(TokenizerEmbed, VocabGgufIsCopiedAndPadded) {
  ModelConfig c;
  c.vocab_size = 32016;
  const auto f = embedded("gguf:llama-spm", c);
  EXPECT_EQ(f->get("tokenizer.ggml.model").as_string(), "llama");
  const auto& tokens = f->get("tokenizer.ggml.tokens").as_array();
  ASSERT_EQ(tokens.size(), 32016u);
  EXPECT_EQ(f->get("tokenizer.ggml.scores").as_array().size(), 32016u);
  EXPECT_EQ(tokens[32005].as_string(), "[PAD32005]");
  const auto vocab = GGUFFile::open((test::tokenizers_dir() / "ggml-vocab-llama-spm.gguf").string());
  expect_same_ids(*load_tokenizer_gguf(*f), *load_tokenizer_gguf(*vocab), "llama-spm vocab vs padded copy");
}

// The HF tokenizer.json made from a llama.cpp vocab tokenizes like the vocab itself.
TEST_F(TokenizerEmbed, VocabGgufToHfTokenizerJson) {
  for (const char* name : {"llama-spm", "qwen2", "deepseek-llm"}) {
    SCOPED_TRACE(name);
    const auto vocab = GGUFFile::open((test::tokenizers_dir() / (std::string("ggml-vocab-") + name + ".gguf")).string());
    ModelConfig c;
    c.vocab_size = static_cast<int64_t>(vocab->get("tokenizer.ggml.tokens").as_array().size());
    c.context_length = 4096;
    const TokenizerFiles files = hf_tokenizer_from_gguf(*vocab, c);
    const auto from_json = load_tokenizer_json(files.tokenizer_json, files.tokenizer_config_json);
    const auto from_gguf = load_tokenizer_gguf(*vocab);
    expect_same_ids(*from_json, *from_gguf, name);
  }
}

}  // namespace
}  // namespace dragon
