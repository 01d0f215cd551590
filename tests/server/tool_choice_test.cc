// tool_choice "required" / a named function on a Hermes-format model (Qwen3's real tokenizer):
// random logits under the forced-call constraint always give one parsable call of an allowed
// tool whose arguments match its parameters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <random>

#include "chat/tool_call_parser.h"
#include "server/json_schema.h"
#include "server/tool_choice.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dragon::server {
namespace {

using json = nlohmann::json;

const nlohmann::ordered_json kTools = nlohmann::ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string", "maxLength": 8}, "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"]}}},
  {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
  {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
    "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]}}}])");

TEST(ToolChoice, CallSchemaPerTool) {
  const json one = forced_call_schema(kTools, "get_weather");
  EXPECT_EQ(one["properties"]["name"]["const"], "get_weather");
  EXPECT_EQ(one["properties"]["arguments"]["required"], json::array({"city", "unit"}));
  const json all = forced_call_schema(kTools, "");
  ASSERT_EQ(all["anyOf"].size(), 3u);
  // "minimum" is not enforceable: the typed schema is refused, the untyped one compiles.
  EXPECT_THROW(JsonSchema::compile(all), dragon::Error);
  EXPECT_NO_THROW(JsonSchema::compile(forced_call_schema(kTools, "", false)));
}

TEST(ToolChoice, RandomModelAlwaysCallsAnAllowedTool) {
  const auto dir = dragon::test::tokenizers_dir() / "qwen3";
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "no " << dir;
  const auto tok = load_tokenizer(dir.string());
  ServedModel model;
  model.tokenizer = tok.get();
  model.tool_format = chat::ToolCallFormat::Hermes;
  model.stop_tokens = {*tok->token_id("<|im_end|>")};
  const int64_t n_vocab = tok->n_vocab();
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  for (uint32_t seed = 0; seed < 4; ++seed) {
    const std::string name = seed % 2 == 0 ? "get_weather" : "";
    auto c = forced_tool_call_constraint(model, kTools, name, 120);
    ASSERT_NE(c, nullptr);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::string text;
    int tokens = 0;
    for (; tokens < 120 && !c->is_complete(); ++tokens) {
      for (auto& l : logits) l = normal(rng);
      c->mask(logits.data(), n_vocab);
      int32_t best = -1;
      for (int32_t id = 0; id < n_vocab; ++id)
        if (std::isfinite(logits[size_t(id)]) && (best < 0 || logits[size_t(id)] > logits[size_t(best)])) best = id;
      ASSERT_GE(best, 0);
      c->accept(best);
      text += tok->token_bytes(best);
    }
    ASSERT_TRUE(c->is_complete()) << text;
    chat::ToolCallParser parser(chat::ToolCallFormat::Hermes);
    chat::ToolCallDelta d = parser.push(text);
    chat::ToolCallDelta tail = parser.finish();
    d.calls.insert(d.calls.end(), tail.calls.begin(), tail.calls.end());
    ASSERT_EQ(d.calls.size(), 1u) << text;
    EXPECT_EQ(d.content + tail.content, "") << text;
    if (!name.empty()) EXPECT_EQ(d.calls[0].name, name);
    const json args = json::parse(d.calls[0].arguments);
    if (d.calls[0].name == "get_weather") {
      EXPECT_TRUE(args["city"].is_string() && args["city"].get<std::string>().size() <= 8 * 4) << text;
      EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << text;
    }
    std::printf("  seed %u (%s): %d tokens: %s(%s)\n", seed, name.empty() ? "required" : name.c_str(), tokens,
                d.calls[0].name.c_str(), d.calls[0].arguments.c_str());
  }
}

}  // namespace
}  // namespace dragon::server
