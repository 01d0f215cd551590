// The same tokenizer gives the same ids whether it is loaded from tokenizer.json or from the
// tokenizer.ggml.* metadata of a GGUF file: dragon synth embeds the real Qwen3 / DeepSeek-V3
// tokenizer.json into a small GGUF, and both loaders must agree on the whole corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "synth/synth.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

struct Case { std::string preset, tokenizer; std::vector<std::string> sets; };

class TokenizerSources : public ::testing::TestWithParam<Case> {};

TEST_P(TokenizerSources, GgufAndTokenizerJsonGiveTheSameIds) {
  const Case& c = GetParam();
  const fs::path dir = fs::temp_directory_path() / fmt::format("dragon_tok_sources_{}_{}", c.preset, ::getpid());
  fs::create_directories(dir);
  SynthOptions o;
  o.preset = c.preset;
  o.format = "gguf";
  o.layers = 1;
  o.sets = c.sets;
  o.out = (dir / "model.gguf").string();
  o.tokenizer_dir = test::tokenizers_dir().string();
  synthesize(o);

  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 {} {} --random 300 --ceval-limit 200 > /dev/null",
                                    (test::source_dir() / "tests/tokenizer/make_corpus.py").string(),
                                    (dir / "corpus.json").string()).c_str()), 0);
  std::ifstream in(dir / "corpus.json");
  const auto texts = nlohmann::json::parse(in);

  auto from_json = load_tokenizer_files((test::tokenizers_dir() / c.tokenizer).string());
  auto gguf = GGUFFile::open(o.out);
  auto from_gguf = load_tokenizer_gguf(*gguf);
  size_t mismatches = 0, tokens = 0;
  for (const auto& t : texts) {
    const std::string text = t.get<std::string>();
    for (bool add_special : {false, true}) {
      auto a = from_json->encode(text, add_special), b = from_gguf->encode(text, add_special);
      tokens += a.size();
      if (a != b && ++mismatches <= 3)
        ADD_FAILURE() << c.preset << " " << nlohmann::json(text).dump() << "\n  json " << nlohmann::json(a).dump()
                      << "\n  gguf " << nlohmann::json(b).dump();
    }
  }
  fmt::print("{} ({} tokenizer): {} texts x 2, {} tokens, {} mismatches between tokenizer.json and GGUF\n", c.preset,
             c.tokenizer, texts.size(), tokens, mismatches);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(from_json->eos_id(), from_gguf->eos_id());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Synthetic, TokenizerSources,
    ::testing::Values(Case{"qwen3-0.6b", "qwen3", {"hidden_size=64", "intermediate_size=128", "num_attention_heads=2", "num_key_value_heads=1", "head_dim=32"}},
                      Case{"deepseek-v3", "deepseek-v3", {"hidden_size=64", "intermediate_size=128", "moe_intermediate_size=32", "n_routed_experts=4", "num_experts_per_tok=2", "n_group=1", "topk_group=1", "num_attention_heads=2", "num_key_value_heads=2", "q_lora_rank=32", "kv_lora_rank=32", "qk_nope_head_dim=16", "qk_rope_head_dim=16", "v_head_dim=16", "first_k_dense_replace=0"}}),
    [](const auto& info) { std::string s; for (char ch : info.param.preset) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_'; return s; });

}  // namespace
}  // namespace dragon
