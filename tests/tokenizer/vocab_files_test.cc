// llama.cpp's tokenizer test vectors: models/ggml-vocab-<name>.gguf with .inp (texts separated by
// "__ggml_vocab_test__" lines) and .out (the ids HF's tokenizer gives, one line per text).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/gguf.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_inputs(const std::string& text) {
  std::vector<std::string> out;
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(sep, pos);
    if (hit == std::string::npos) break;
    out.push_back(text.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::string& text) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<int32_t> ids;
    std::istringstream words(line);
    int32_t id;
    while (words >> id) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

class VocabFiles : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabFiles, MatchesReferenceIds) {
  const fs::path models = test::llama_cpp_dir() / "models";
  const fs::path base = models / fmt::format("ggml-vocab-{}.gguf", GetParam());
  ASSERT_TRUE(fs::exists(base)) << base << " missing: run scripts/setup.sh";
  auto gguf = GGUFFile::open(base.string());
  auto tokenizer = load_tokenizer_gguf(*gguf);
  const auto inputs = split_inputs(read_file(base.string() + ".inp"));
  const auto outputs = read_outputs(read_file(base.string() + ".out"));
  ASSERT_EQ(inputs.size(), outputs.size()) << "test vector files disagree";
  ASSERT_GT(inputs.size(), 10u);
  size_t mismatches = 0, tokens = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto got = tokenizer->encode(inputs[i], /*add_special_tokens=*/false);
    tokens += outputs[i].size();
    if (got != outputs[i] && ++mismatches <= 5)
      ADD_FAILURE() << GetParam() << " #" << i << " \"" << inputs[i] << "\"\n  want " << fmt::format("{}", fmt::join(outputs[i], " "))
                    << "\n  got  " << fmt::format("{}", fmt::join(got, " "));
  }
  fmt::print("ggml-vocab-{}: {} texts, {} tokens, {} mismatches\n", GetParam(), inputs.size(), tokens, mismatches);
  EXPECT_EQ(mismatches, 0u);
}

INSTANTIATE_TEST_SUITE_P(LlamaCppVectors, VocabFiles,
                         ::testing::Values("qwen2", "qwen35", "deepseek-llm", "deepseek-coder", "llama-bpe", "llama-spm", "gpt-2"),
                         [](const auto& info) {
                           std::string s;
                           for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

}  // namespace
}  // namespace dragon
