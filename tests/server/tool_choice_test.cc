// tool_choice "required" / a named function, in each native format the server parses: a
// random model — and one pushed hard towards plain text and an early end of turn — under the
// forced-call constraint always writes exactly one call the format's parser reads, of an
// allowed tool, with arguments that match its parameters and no text around it.
// Qwen3's real tokenizer stands in for the families whose tokenizers are not shipped (Kimi,
// GLM, MiniMax: their markers are then spelled in bytes); DeepSeek-V3's real one (its markers
// are added tokens) is used for the DeepSeek formats.
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
using chat::ToolCallFormat;

const nlohmann::ordered_json kTools = nlohmann::ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string", "maxLength": 8}, "unit": {"enum": ["c", "f"]}, "days": {"type": "integer"}},
    "required": ["city", "unit"]}}},
  {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {},
    "additionalProperties": false}}},
  {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
    "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]}}}])");

TEST(ToolChoice, CallSchemaPerTool) {
  const json one = forced_call_schema(kTools, "get_weather");
  EXPECT_EQ(one["properties"]["name"]["const"], "get_weather");
  EXPECT_EQ(one["properties"]["arguments"]["required"], json::array({"city", "unit"}));
  const json all = forced_call_schema(kTools, "");
  ASSERT_EQ(all["anyOf"].size(), 3u);
  // "minimum" is not enforceable: add's arguments are any object, the other tools keep their types.
  EXPECT_EQ(all["anyOf"][2]["properties"]["arguments"], json({{"type", "object"}}));
  EXPECT_EQ(all["anyOf"][0]["properties"]["arguments"]["required"], json::array({"city", "unit"}));
  EXPECT_NO_THROW(JsonSchema::compile(all));
  EXPECT_NO_THROW(JsonSchema::compile(forced_call_schema(kTools, "", false)));
}

std::unique_ptr<Tokenizer> tokenizer(const char* family) {
  const auto dir = dragon::test::tokenizers_dir() / family;
  if (!std::filesystem::exists(dir / "tokenizer.json")) return nullptr;
  return load_tokenizer(dir.string());
}

struct Generated {
  std::string text;
  int tokens = 0;
  bool complete = false;
};

// Greedy over random logits under the constraint. `push_text`: plain-text tokens and the end of
// turn get +40 on every step, so a constraint that lets anything but the call through shows.
Generated generate(const Tokenizer& tok, TokenConstraint& c, uint32_t seed, int max_tokens, const std::vector<int32_t>& pushed) {
  const int64_t n_vocab = tok.n_vocab();
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  Generated r;
  for (; r.tokens < max_tokens && !c.is_complete(); ++r.tokens) {
    for (auto& l : logits) l = normal(rng);
    for (int32_t id : pushed) logits[size_t(id)] += 40.0f;
    c.mask(logits.data(), n_vocab);
    int32_t best = -1;
    for (int32_t id = 0; id < n_vocab; ++id)
      if (std::isfinite(logits[size_t(id)]) && (best < 0 || logits[size_t(id)] > logits[size_t(best)])) best = id;
    if (best < 0) break;
    c.accept(best);
    r.text += tok.token_bytes(best);
  }
  r.complete = c.is_complete();
  return r;
}

// The arguments match kTools' parameters (as far as the constraint enforces them: "minimum"
// is not, so add's `a` is any JSON there).
void expect_valid_arguments(const std::string& name, const json& args, const std::string& text) {
  ASSERT_TRUE(args.is_object()) << text;
  if (name == "get_weather") {
    ASSERT_TRUE(args.contains("city") && args["city"].is_string()) << text;
    EXPECT_LE(args["city"].get<std::string>().size(), 8u * 4) << text;
    EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << text;
    if (args.contains("days")) {
      EXPECT_TRUE(args["days"].is_number_integer()) << text;
    }
    for (const auto& [k, _] : args.items()) EXPECT_TRUE(k == "city" || k == "unit" || k == "days") << text;
  } else if (name == "get_time") {
    EXPECT_TRUE(args.empty()) << text;
  } else {
    EXPECT_EQ(name, "add") << text;
  }
}

struct FormatCase {
  const char* label;
  ToolCallFormat format;
  const char* family;      // tokenizer
  const char* end_of_turn;
  std::string template_source;  // what tells DeepSeek's V3 / R1 layout from V3.1's
};

void check_format(const FormatCase& fc) {
  const auto tok = tokenizer(fc.family);
  if (!tok) GTEST_SKIP() << "no tokenizer " << fc.family;
  ServedModel model;
  model.tokenizer = tok.get();
  model.tool_format = fc.format;
  model.chat_template.source = fc.template_source;
  model.stop_tokens = {*tok->token_id(fc.end_of_turn)};
  // Plain text a free model would write instead of a call, and the end of its turn.
  std::vector<int32_t> pushed = tok->encode("Sure! It is sunny", false, false);
  pushed.push_back(model.stop_tokens[0]);
  const json tools = json::parse(kTools.dump());
  int runs = 0;
  // A named tool and "required", each with and without the push to plain text.
  for (uint32_t seed = 0; seed < 4; ++seed) {
    const std::string name = seed == 0 ? "get_weather" : seed == 2 ? "add" : "";
    const bool push = seed == 1 || seed == 2;
    const int max_tokens = 256;
    auto c = forced_tool_call_constraint(model, kTools, name, max_tokens);
    ASSERT_NE(c, nullptr) << fc.label;
    const Generated r = generate(*tok, *c, seed, max_tokens, push ? pushed : std::vector<int32_t>{});
    ASSERT_TRUE(r.complete) << fc.label << " seed " << seed << ": " << r.text;
    chat::ToolCallParser parser(fc.format, tools);
    chat::ToolCallDelta d = parser.push(r.text);
    const chat::ToolCallDelta tail = parser.finish();
    d.content += tail.content;
    d.calls.insert(d.calls.end(), tail.calls.begin(), tail.calls.end());
    ASSERT_EQ(d.calls.size(), 1u) << fc.label << ": " << r.text;
    EXPECT_EQ(d.content, "") << fc.label << ": " << r.text;
    if (!name.empty()) {
      EXPECT_EQ(d.calls[0].name, name) << r.text;
    }
    const json args = json::parse(d.calls[0].arguments);
    expect_valid_arguments(d.calls[0].name, args, r.text);
    std::printf("  %s seed %u (%s%s): %d tokens: %s(%s)\n", fc.label, seed, name.empty() ? "required" : name.c_str(),
                push ? ", pushed to text" : "", r.tokens, d.calls[0].name.c_str(), d.calls[0].arguments.c_str());
    ++runs;
  }
  EXPECT_EQ(runs, 4);
}

TEST(ToolChoice, HermesAlwaysCallsAnAllowedTool) {
  check_format({"hermes", ToolCallFormat::Hermes, "qwen3", "<|im_end|>", ""});
}

TEST(ToolChoice, DeepSeekV3FencedAlwaysCallsAnAllowedTool) {
  check_format({"deepseek-v3", ToolCallFormat::DeepSeekV3, "deepseek-v3", "<｜end▁of▁sentence｜>",
                "'<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n'"});
}

TEST(ToolChoice, DeepSeekV31AlwaysCallsAnAllowedTool) {
  check_format({"deepseek-v3.1", ToolCallFormat::DeepSeekV3, "deepseek-v3", "<｜end▁of▁sentence｜>",
                "'<｜tool▁call▁begin｜>' + tool['function']['name'] + '<｜tool▁sep｜>'"});
}

TEST(ToolChoice, KimiK2AlwaysCallsAnAllowedTool) {
  check_format({"kimi-k2", ToolCallFormat::KimiK2, "qwen3", "<|im_end|>", ""});
}

TEST(ToolChoice, Glm45AlwaysCallsAnAllowedTool) {
  check_format({"glm-4.5", ToolCallFormat::Glm45, "qwen3", "<|im_end|>", ""});
}

TEST(ToolChoice, MiniMaxM2AlwaysCallsAnAllowedTool) {
  check_format({"minimax-m2", ToolCallFormat::MiniMaxM2, "qwen3", "<|im_end|>", ""});
}

// The exact text of a named call in each format: the wrapper is the family's own (what its
// template writes), not merely something the parser forgives.
TEST(ToolChoice, TheWrapperIsTheFamilysOwn) {
  const auto tok = tokenizer("qwen3");
  if (!tok) GTEST_SKIP() << "no tokenizer qwen3";
  const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f",
    "parameters": {"type": "object", "properties": {"s": {"enum": ["x"]}}, "required": ["s"]}}}])");
  // Literal wrapper before and after, and the value between (JSON: whitespace in it may vary).
  struct Case {
    ToolCallFormat format;
    std::string before, value, after;
  };
  const std::vector<Case> cases = {
      {ToolCallFormat::KimiK2, "<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>",
       R"({"s": "x"})", "<|tool_call_end|><|tool_calls_section_end|>"},
      {ToolCallFormat::Glm45, "<tool_call>f\n<arg_key>s</arg_key>\n<arg_value>", "\"x\"", "</arg_value>\n</tool_call>"},
      {ToolCallFormat::MiniMaxM2, "<minimax:tool_call>\n<invoke name=\"f\">\n<parameter name=\"s\">", "\"x\"",
       "</parameter>\n</invoke>\n</minimax:tool_call>"},
  };
  for (const auto& c : cases) {
    ServedModel model;
    model.tokenizer = tok.get();
    model.tool_format = c.format;
    model.stop_tokens = {*tok->token_id("<|im_end|>")};
    auto constraint = forced_tool_call_constraint(model, tools, "f", 200);
    const Generated r = generate(*tok, *constraint, 7, 200, {});
    std::printf("  %s: %s\n", chat::tool_call_format_name(c.format), r.text.c_str());
    EXPECT_TRUE(r.complete);
    ASSERT_GE(r.text.size(), c.before.size() + c.after.size()) << r.text;
    EXPECT_EQ(r.text.substr(0, c.before.size()), c.before);
    EXPECT_EQ(r.text.substr(r.text.size() - c.after.size()), c.after);
    const std::string value = r.text.substr(c.before.size(), r.text.size() - c.before.size() - c.after.size());
    EXPECT_EQ(json::parse(value, nullptr, false), json::parse(c.value)) << value;
  }
}

// With few tokens left, "required" picks a tool whose call still fits rather than one that
// cannot finish (a 300-character argument) and would end the answer by length, cut.
TEST(ToolChoice, ATightBudgetPicksACallThatFits) {
  const auto tok = tokenizer("qwen3");
  if (!tok) GTEST_SKIP() << "no tokenizer qwen3";
  const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "long_tool", "parameters": {"type": "object",
      "properties": {"text": {"type": "string", "minLength": 300}}, "required": ["text"]}}},
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {},
      "additionalProperties": false}}}])");
  for (const ToolCallFormat format : {ToolCallFormat::Glm45, ToolCallFormat::KimiK2}) {
    ServedModel model;
    model.tokenizer = tok.get();
    model.tool_format = format;
    model.stop_tokens = {*tok->token_id("<|im_end|>")};
    for (uint32_t seed = 0; seed < 4; ++seed) {
      auto c = forced_tool_call_constraint(model, tools, "", 140);
      const Generated r = generate(*tok, *c, seed, 140, {});
      std::printf("  %s seed %u: %d tokens, complete %d: %s\n", chat::tool_call_format_name(format), seed, r.tokens, r.complete,
                  r.text.substr(0, 80).c_str());
      EXPECT_TRUE(r.complete) << r.text;
    }
  }
}

// Follows `text` token by token through the constraint: true when every token is allowed by
// mask() and the call is complete at the end.
bool constraint_accepts(const Tokenizer& tok, TokenConstraint& c, const std::string& text) {
  std::vector<float> logits(size_t(tok.n_vocab()));
  for (int32_t id : tok.encode(text, false, true)) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    c.mask(logits.data(), tok.n_vocab());
    if (!std::isfinite(logits[size_t(id)])) return false;
    c.accept(id);
  }
  return c.is_complete();
}

// GLM and MiniMax write any subset of the optional parameters (in the schema's order), however
// many the tool has: here six, so a call may carry the fifth alone, or all of them, or none
// (until this stop only subsets of the first three were allowed). Random generation in these
// formats is checked by the *AlwaysCallsAnAllowedTool tests above.
TEST(ToolChoice, EveryOptionalParameterCanBeWritten) {
  const auto tok = tokenizer("qwen3");
  if (!tok) GTEST_SKIP() << "no tokenizer qwen3";
  const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "o1": {"type": "integer"},
    "o2": {"type": "integer"}, "o3": {"type": "integer"}, "o4": {"type": "integer"}, "o5": {"type": "string"},
    "o6": {"type": "boolean"}}, "required": ["q"]}}}])");
  ServedModel model;
  model.tokenizer = tok.get();
  model.stop_tokens = {*tok->token_id("<|im_end|>")};
  const auto glm_call = [](const std::vector<std::pair<std::string, std::string>>& args) {
    std::string t = "<tool_call>f\n";
    for (const auto& [k, v] : args) t += "<arg_key>" + k + "</arg_key>\n<arg_value>" + v + "</arg_value>\n";
    return t + "</tool_call>";
  };
  const auto minimax_call = [](const std::vector<std::pair<std::string, std::string>>& args) {
    std::string t = "<minimax:tool_call>\n<invoke name=\"f\">\n";
    for (const auto& [k, v] : args) t += "<parameter name=\"" + k + "\">" + v + "</parameter>\n";
    return t + "</invoke>\n</minimax:tool_call>";
  };
  struct Case {
    std::vector<std::pair<std::string, std::string>> args;
    bool valid;
  };
  const std::vector<Case> cases = {
      {{{"q", "x"}}, true},
      {{{"q", "x"}, {"o5", "five"}}, true},
      {{{"q", "x"}, {"o4", "4"}, {"o6", "true"}}, true},
      {{{"q", "x"}, {"o1", "1"}, {"o2", "2"}, {"o3", "3"}, {"o4", "4"}, {"o5", "y"}, {"o6", "false"}}, true},
      {{{"o5", "five"}}, false},                       // the required q left out
      {{{"q", "x"}, {"o6", "true"}, {"o5", "y"}}, false},  // out of the schema's order
      {{{"q", "x"}, {"o4", "\"4\""}}, false},          // a string where an integer goes
      {{{"q", "x"}, {"o7", "1"}}, false},              // no such parameter
  };
  for (const ToolCallFormat format : {ToolCallFormat::Glm45, ToolCallFormat::MiniMaxM2}) {
    model.tool_format = format;
    for (const Case& k : cases) {
      const std::string text = format == ToolCallFormat::Glm45 ? glm_call(k.args) : minimax_call(k.args);
      auto c = forced_tool_call_constraint(model, tools, "f", 400);
      const bool accepted = constraint_accepts(*tok, *c, text);
      std::printf("  %s: %s -> %s\n", chat::tool_call_format_name(format), text.c_str(), accepted ? "accepted" : "refused");
      EXPECT_EQ(accepted, k.valid) << text;
    }
  }
}

// A budget that fits the call only when its wrapper is counted in tokens: Kimi's header and
// tail are ~130 bytes but ~30 tokens of Qwen's vocabulary (its markers spelled in pieces). The
// arguments are any object, so a constraint that thinks the budget is already blown stops
// steering towards "{}" and random logits grow the object until max_tokens cuts it.
TEST(ToolChoice, ASmallMaxTokensCountsTheWrapperInTokens) {
  const auto tok = tokenizer("qwen3");
  if (!tok) GTEST_SKIP() << "no tokenizer qwen3";
  const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}])");
  ServedModel model;
  model.tokenizer = tok.get();
  model.tool_format = ToolCallFormat::KimiK2;
  model.stop_tokens = {*tok->token_id("<|im_end|>")};
  const std::string shortest =
      "<|tool_calls_section_begin|><|tool_call_begin|>functions.lookup:0<|tool_call_argument_begin|>{}"
      "<|tool_call_end|><|tool_calls_section_end|>";
  const int needed = int(tok->encode(shortest, false, false).size());
  const int max_tokens = needed + 6;
  std::printf("  shortest call: %zu bytes, %d tokens; max_tokens %d\n", shortest.size(), needed, max_tokens);
  ASSERT_LT(max_tokens, int(shortest.size()));
  for (uint32_t seed = 0; seed < 6; ++seed) {
    auto c = forced_tool_call_constraint(model, tools, "lookup", max_tokens);
    const Generated r = generate(*tok, *c, seed, max_tokens, {});
    std::printf("  seed %u: %d tokens, complete %d: %s\n", seed, r.tokens, r.complete, r.text.c_str());
    EXPECT_TRUE(r.complete) << r.text;
  }
}

}  // namespace
}  // namespace dragon::server
