// JSON mode: the character-level prefix checker, and the token constraint that keeps a
// (here: random) generation a valid JSON object that closes within its token budget.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "server/json_constraint.h"

namespace dragon {
namespace {

bool is_prefix(const std::string& text, bool object_only = true) {
  JsonPrefix p(object_only);
  return p.push(text);
}

TEST(JsonPrefix, AcceptsPrefixesOfValidJson) {
  const std::string doc = R"({"a": [1, -2.5e+3, true, false, null, {"b": "x\"\u00e9\n 中"}], "c": {}, "d": []})";
  for (size_t n = 0; n <= doc.size(); ++n) EXPECT_TRUE(is_prefix(doc.substr(0, n))) << doc.substr(0, n);
  JsonPrefix p;
  ASSERT_TRUE(p.push(doc));
  EXPECT_TRUE(p.complete());
  EXPECT_TRUE(p.push(" \n"));
  EXPECT_FALSE(p.push("x"));
}

TEST(JsonPrefix, RejectsInvalidText) {
  for (const char* bad : {"[", "x", "{a", "{\"a\" 1", "{\"a\":01", "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru }", "{\"a\":\"\x01",
                          "{\"a\":\"\\x\"", "{\"a\":\"\\u12g\"", "{\"a\":1,}", "{,", "{\"a\":1]", "{}}", "{\"a\":\"\xff\""})
    EXPECT_FALSE(is_prefix(bad)) << bad;
  EXPECT_TRUE(is_prefix("[1]", /*object_only=*/false));
}

TEST(JsonPrefix, CompletionClosesEveryPrefix) {
  const std::string doc = R"({"key": [1.5e-3, "str\\u12", {"n": nul)";
  for (size_t n = 0; n <= doc.size(); ++n) {
    JsonPrefix p;
    ASSERT_TRUE(p.push(doc.substr(0, n)));
    const std::string full = doc.substr(0, n) + p.completion();
    // \u12 + "00" completes the escape; the closers follow.
    EXPECT_FALSE(nlohmann::json::parse(full, nullptr, false).is_discarded()) << full;
    EXPECT_EQ(p.completion_size(), p.completion().size());
  }
}

// A vocabulary of single characters and a few multi-character pieces, with random logits:
// whatever is drawn, the result parses as a JSON object within the budget.
TEST(JsonObjectConstraint, RandomGenerationAlwaysParses) {
  auto table = std::make_shared<TokenTable>();
  for (int c = 32; c < 127; ++c) table->bytes.push_back(std::string(1, char(c)));
  for (const char* piece : {"{\"", "\":", "\", \"", "true", "null", "[[[[", "}}", "\\u", "\n", "中文", "<|im_end|>"})
    table->bytes.push_back(piece);
  table->usable.assign(table->bytes.size(), 1);
  const int32_t eos = int32_t(table->bytes.size()) - 1;
  table->usable[eos] = 0;  // the end-of-turn token is special
  const int64_t n_vocab = int64_t(table->bytes.size());
  std::mt19937 rng(7);
  int completed = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t budget = 4 + trial % 40;
    JsonObjectConstraint c(table, {eos}, budget);
    std::string text;
    int64_t used = 0;
    std::vector<float> logits(n_vocab);
    for (; used < budget; ++used) {
      std::normal_distribution<float> normal(0.0f, 3.0f);
      for (auto& l : logits) l = normal(rng);
      c.mask(logits.data(), n_vocab);
      int32_t best = -1;
      for (int32_t id = 0; id < n_vocab; ++id)
        if (std::isfinite(logits[id]) && (best < 0 || logits[id] > logits[best])) best = id;
      ASSERT_GE(best, 0) << "no token allowed after " << text;
      if (best == eos) break;
      c.accept(best);
      text += table->bytes[best];
      if (c.is_complete()) {
        ++completed;
        break;
      }
    }
    ASSERT_LE(used, budget);
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "budget " << budget << ": " << text;
    EXPECT_TRUE(j.is_object());
  }
  std::printf("  200 random constrained generations (budgets 4..43 tokens): all parse, %d completed\n", completed);
}

}  // namespace
}  // namespace dragon
