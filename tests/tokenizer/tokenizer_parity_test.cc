// Token-for-token parity with the real Qwen3 and DeepSeek-V3 tokenizers (their tokenizer.json run
// by the JS implementation in npm @lenml/tokenizers) on a varied corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

void run(const std::string& command) {
  ASSERT_EQ(std::system(command.c_str()), 0) << "command failed: " << command;
}

class TokenizerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerParity, MatchesJsReferenceOnCorpus) {
  const std::string name = GetParam();
  const fs::path src = DRAGON_SOURCE_DIR, tokenizers = test::tokenizers_dir();
  ASSERT_TRUE(fs::exists(tokenizers / name / "tokenizer.json")) << "run scripts/setup.sh: " << tokenizers / name;
  const fs::path dir = fs::temp_directory_path() / fmt::format("dragon_tok_parity_{}_{}", name, ::getpid());
  fs::create_directories(dir);
  // A bounded corpus in the suite; tests/tokenizer/full_parity.sh raises it to every C-Eval item.
  const char* random_env = std::getenv("DRAGON_TOKENIZER_CORPUS_RANDOM");
  const char* ceval_env = std::getenv("DRAGON_TOKENIZER_CORPUS_CEVAL");
  run(fmt::format("/usr/bin/python3 {} {} --random {} --ceval-limit {} > /dev/null", (src / "tests/tokenizer/make_corpus.py").string(),
                  (dir / "corpus.json").string(), random_env ? random_env : "400", ceval_env ? ceval_env : "300"));
  run(fmt::format("node {} {} {} {}", (src / "tests/tokenizer/js_reference.cjs").string(), name, (dir / "corpus.json").string(), (dir / "ref.json").string()));
  const auto texts = read_json(dir / "corpus.json");
  const auto expected = read_json(dir / "ref.json");
  ASSERT_EQ(texts.size(), expected.size());

  auto tokenizer = load_tokenizer_files((tokenizers / name).string());
  size_t mismatches = 0, tokens = 0, bytes = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto want = expected[i].get<std::vector<int32_t>>();
    const auto got = tokenizer->encode(text, /*add_special_tokens=*/false);
    tokens += want.size();
    bytes += text.size();
    if (got != want) {
      if (++mismatches <= 5)
        ADD_FAILURE() << name << " text #" << i << " " << nlohmann::json(text).dump() << "\n  want " << nlohmann::json(want).dump()
                      << "\n  got  " << nlohmann::json(got).dump();
    }
    // Decoding gives back the text (as normalized: Qwen's tokenizer applies NFC first).
    const std::string normalized = name == "qwen3" ? unicode_normalize(text, NormalizerStep::Kind::NFC) : text;
    if (got == want && tokenizer->decode(got) != normalized && mismatches++ < 5)
      ADD_FAILURE() << name << " text #" << i << " does not round-trip: " << nlohmann::json(tokenizer->decode(got)).dump();
  }
  fmt::print("{}: {} texts, {} bytes, {} tokens, {} mismatches\n", name, texts.size(), bytes, tokens, mismatches);
  EXPECT_EQ(mismatches, 0u);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, TokenizerParity, ::testing::Values("qwen3", "deepseek-v3"),
                         [](const auto& info) { return info.param == "qwen3" ? std::string("Qwen3") : std::string("DeepSeekV3"); });

}  // namespace
}  // namespace dragon
