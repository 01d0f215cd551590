// The split regexes dragon uses for GGUF vocabularies (pre_tokenizer_presets.cc, run by PCRE2)
// cut text exactly where Python's `regex` module cuts it with the families' original patterns —
// the check that covers the families without a reference tokenizer here (GLM-4, Llama-3,
// MiniMax-M2 / GPT-4o, Kimi-K2, Qwen3.5, DeepSeek LLM / Coder / V3).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/pre_tokenizer_presets.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

TEST(PreTokenizerRegexes, MatchPythonRegexOnCorpus) {
  const std::vector<std::string> names = {"qwen2", "qwen35", "llama-bpe", "glm4", "gpt-2", "gpt-4o", "minimax-m2",
                                          "kimi-k2", "deepseek-v3", "deepseek-llm", "deepseek-coder"};
  const fs::path dir = fs::temp_directory_path() / fmt::format("dragon_pretok_{}", ::getpid());
  fs::create_directories(dir);
  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 {} {} --random 300 --ceval-limit 200 > /dev/null",
                                    (test::source_dir() / "tests/tokenizer/make_corpus.py").string(),
                                    (dir / "corpus.json").string()).c_str()), 0);
  std::ifstream corpus_in(dir / "corpus.json");
  nlohmann::json request;
  request["texts"] = nlohmann::json::parse(corpus_in);
  for (const auto& n : names) request["splitters"][n] = *pre_tokenizer_regexes(n);
  std::ofstream(dir / "request.json") << request.dump();
  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 {} {} {}", (test::source_dir() / "tests/tokenizer/pretokenize_reference.py").string(),
                                    (dir / "request.json").string(), (dir / "ref.json").string()).c_str()), 0)
      << "the reference needs Debian python3-regex (scripts/setup.sh installs it)";
  std::ifstream ref_in(dir / "ref.json");
  const auto ref = nlohmann::json::parse(ref_in);

  for (const auto& n : names) {
    PreTokenizer p = PreTokenizer::from_regexes(*pre_tokenizer_regexes(n));
    size_t mismatches = 0, pieces = 0;
    for (size_t i = 0; i < request["texts"].size(); ++i) {
      const auto got = p.split(request["texts"][i].get<std::string>());
      const auto want = ref[n][i].get<std::vector<std::string>>();
      pieces += want.size();
      if (got != want && ++mismatches <= 2)
        ADD_FAILURE() << n << " text #" << i << " " << nlohmann::json(request["texts"][i]).dump() << "\n  want "
                      << nlohmann::json(want).dump() << "\n  got  " << nlohmann::json(got).dump();
    }
    fmt::print("{:15s} {} texts, {} pieces, {} mismatches\n", n, request["texts"].size(), pieces, mismatches);
    EXPECT_EQ(mismatches, 0u) << n;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dragon
