// Tool calls in the families' native formats, parsed out of streamed text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "chat/tool_call_parser.h"

namespace dragon::chat {
namespace {

ToolCallDelta parse_pieces(ToolCallFormat format, const std::vector<std::string>& pieces) {
  ToolCallParser p(format);
  ToolCallDelta all;
  for (const auto& piece : pieces) {
    ToolCallDelta d = p.push(piece);
    all.content += d.content;
    all.calls.insert(all.calls.end(), d.calls.begin(), d.calls.end());
  }
  ToolCallDelta d = p.finish();
  all.content += d.content;
  all.calls.insert(all.calls.end(), d.calls.begin(), d.calls.end());
  return all;
}

// The same result for the text in one piece, cut anywhere in two, and byte by byte.
ToolCallDelta parse_every_way(ToolCallFormat format, const std::string& text) {
  const ToolCallDelta whole = parse_pieces(format, {text});
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const ToolCallDelta d = parse_pieces(format, {text.substr(0, cut), text.substr(cut)});
    EXPECT_EQ(d.content, whole.content) << "cut at " << cut;
    EXPECT_EQ(d.calls.size(), whole.calls.size()) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  const ToolCallDelta d = parse_pieces(format, bytes);
  EXPECT_EQ(d.content, whole.content) << "byte by byte";
  EXPECT_EQ(d.calls.size(), whole.calls.size()) << "byte by byte";
  return whole;
}

nlohmann::json args(const ToolCall& c) { return nlohmann::json::parse(c.arguments); }

TEST(ToolCallParser, FormatFromTemplate) {
  EXPECT_EQ(tool_call_format_of_template("... <tool_call>\\n{\"name\": ...} </tool_call>"), ToolCallFormat::Hermes);
  EXPECT_EQ(tool_call_format_of_template("{{'<｜tool▁calls▁begin｜>'}}"), ToolCallFormat::DeepSeekV3);
  EXPECT_EQ(tool_call_format_of_template("{{ messages }}"), ToolCallFormat::None);
}

TEST(ToolCallParser, QwenHermesTwoCallsBetweenText) {
  const std::string text =
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\", \"unit\": \"c\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::Hermes, text);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.calls[0].name, "get_weather");
  EXPECT_EQ(args(d.calls[0])["city"], "北京");
  EXPECT_EQ(d.calls[1].name, "get_time");
  EXPECT_EQ(args(d.calls[1]), nlohmann::json::object());
  EXPECT_EQ(d.content, "Let me check.\n\n");
}

TEST(ToolCallParser, HermesBadJsonStaysText) {
  const std::string text = "<tool_call>\n{\"name\": get_weather}\n</tool_call> ok";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::Hermes, text);
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.content, text);
}

TEST(ToolCallParser, HermesUnterminatedAtEndIsParsed) {
  const ToolCallDelta d = parse_pieces(ToolCallFormat::Hermes, {"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n"});
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(args(d.calls[0])["x"], 1);
}

TEST(ToolCallParser, DeepSeekV3FencedJson) {
  const std::string text =
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"location\": \"Hangzhou\"}\n```"
      "<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::DeepSeekV3, "Sure." + text);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.calls[0].name, "get_weather");
  EXPECT_EQ(args(d.calls[0])["location"], "Hangzhou");
  EXPECT_EQ(d.calls[1].name, "get_time");
  EXPECT_EQ(d.content, "Sure.");
}

TEST(ToolCallParser, DeepSeekV31PlainArguments) {
  const std::string text =
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>search<｜tool▁sep｜>{\"q\": \"dragon\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::DeepSeekV3, text);
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name, "search");
  EXPECT_EQ(args(d.calls[0])["q"], "dragon");
  EXPECT_EQ(d.content, "");
}

TEST(ToolCallParser, FormatFromRealTemplates) {
  const auto dir = std::filesystem::path(DRAGON_SOURCE_DIR) / "build" / "llama.cpp" / "models" / "templates";
  const auto read = [&](const char* name) {
    std::ifstream in(dir / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  if (!std::filesystem::exists(dir / "Kimi-K2-Instruct.jinja")) GTEST_SKIP() << "no " << dir;
  EXPECT_EQ(tool_call_format_of_template(read("Kimi-K2-Instruct.jinja")), ToolCallFormat::KimiK2);
  EXPECT_EQ(tool_call_format_of_template(read("Kimi-K2-Thinking.jinja")), ToolCallFormat::KimiK2);
  EXPECT_EQ(tool_call_format_of_template(read("GLM-4.6.jinja")), ToolCallFormat::Glm45);
  EXPECT_EQ(tool_call_format_of_template(read("GLM-4.7-Flash.jinja")), ToolCallFormat::Glm45);
  EXPECT_EQ(tool_call_format_of_template(read("MiniMax-M2.jinja")), ToolCallFormat::MiniMaxM2);
  EXPECT_EQ(tool_call_format_of_template(read("Qwen-Qwen3-0.6B.jinja")), ToolCallFormat::Hermes);
  EXPECT_EQ(tool_call_format_of_template(read("tencent-Hy3.jinja")), ToolCallFormat::Hy3);
}

TEST(ToolCallParser, KimiK2Section) {
  const std::string text =
      "I'll look.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
      "{\"city\": \"北京\"}<|tool_call_end|><|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{}"
      "<|tool_call_end|><|tool_calls_section_end|>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::KimiK2, text);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.calls[0].name, "get_weather");
  EXPECT_EQ(d.calls[0].id, "functions.get_weather:0");
  EXPECT_EQ(args(d.calls[0])["city"], "北京");
  EXPECT_EQ(d.calls[1].name, "get_time");
  EXPECT_EQ(d.calls[1].id, "functions.get_time:1");
  EXPECT_EQ(d.content, "I'll look.");
}

// Some Kimi-K2 checkpoints spell the section markers in the singular, and llama.cpp's Kimi
// parser takes calls with no section around them: each is a call, not text.
TEST(ToolCallParser, KimiK2SingularSectionAndBareCalls) {
  const std::string call0 = "<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Paris\"}<|tool_call_end|>";
  const std::string call1 = "<|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{}<|tool_call_end|>";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"singular", "A.<|tool_call_section_begin|>" + call0 + call1 + "<|tool_call_section_end|>B"},
      {"plural open, singular close", "A.<|tool_calls_section_begin|>" + call0 + call1 + "<|tool_call_section_end|>B"},
      {"singular open, plural close", "A.<|tool_call_section_begin|>" + call0 + call1 + "<|tool_calls_section_end|>B"},
      {"no section", "A." + call0 + call1 + "B"},
      {"singular, unterminated", "A.<|tool_call_section_begin|>" + call0 + call1 + "B"},
  };
  for (const auto& [label, text] : cases) {
    const ToolCallDelta d = parse_every_way(ToolCallFormat::KimiK2, text);
    std::printf("  %s: %zu calls, content \"%s\"\n", label.c_str(), d.calls.size(), d.content.c_str());
    ASSERT_EQ(d.calls.size(), 2u) << label;
    EXPECT_EQ(d.calls[0].name, "get_weather") << label;
    EXPECT_EQ(d.calls[0].id, "functions.get_weather:0") << label;
    EXPECT_EQ(args(d.calls[0])["city"], "Paris") << label;
    EXPECT_EQ(d.calls[1].name, "get_time") << label;
    // The unterminated section swallows what follows it (as the plural one does).
    if (label != "singular, unterminated") {
      EXPECT_EQ(d.content, "A.B") << label;
    }
  }
}

const nlohmann::json kWeatherTools = nlohmann::json::parse(R"([{"type": "function", "function": {"name": "get_weather",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
  "zip": {"type": "string"}, "opts": {"type": "object"}}}}}])");

TEST(ToolCallParser, Glm45ArgKeyValuePairsTypedBySchema) {
  ToolCallParser p(ToolCallFormat::Glm45, kWeatherTools);
  const std::string text =
      "Checking.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>北京</arg_value>\n<arg_key>days</arg_key>\n"
      "<arg_value>3</arg_value>\n<arg_key>zip</arg_key>\n<arg_value>100000</arg_value>\n<arg_key>opts</arg_key>\n"
      "<arg_value>{\"metric\": true}</arg_value>\n</tool_call><tool_call>get_time\n</tool_call>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::Glm45, text);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.content, "Checking.\n");
  // Typed by the tools given to the parser.
  ToolCallDelta typed = p.push(text);
  ToolCallDelta tail = p.finish();
  typed.calls.insert(typed.calls.end(), tail.calls.begin(), tail.calls.end());
  ASSERT_EQ(typed.calls.size(), 2u);
  const auto a = args(typed.calls[0]);
  EXPECT_EQ(typed.calls[0].name, "get_weather");
  EXPECT_EQ(a["city"], "北京");
  EXPECT_EQ(a["days"], 3);
  EXPECT_EQ(a["zip"], "100000");  // a string parameter stays a string
  EXPECT_EQ(a["opts"]["metric"], true);
  EXPECT_EQ(typed.calls[1].name, "get_time");
  EXPECT_EQ(args(typed.calls[1]), nlohmann::json::object());
}

TEST(ToolCallParser, Glm47NoNewlineAfterName) {
  const ToolCallDelta d =
      parse_every_way(ToolCallFormat::Glm45, "<tool_call>search<arg_key>q</arg_key><arg_value>dragon boat</arg_value></tool_call>");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name, "search");
  EXPECT_EQ(args(d.calls[0])["q"], "dragon boat");
}

// As tencent-Hy3.jinja renders an assistant message with two calls.
TEST(ToolCallParser, Hy3CallsWithArgKeyValuePairs) {
  const std::string text =
      "Checking.<tool_calls:opensource>\n<tool_call:opensource>get_weather<tool_sep:opensource>\n"
      "<arg_key:opensource>city</arg_key:opensource>\n<arg_value:opensource>深圳</arg_value:opensource>\n"
      "<arg_key:opensource>days</arg_key:opensource>\n<arg_value:opensource>2</arg_value:opensource>\n"
      "<arg_key:opensource>zip</arg_key:opensource>\n<arg_value:opensource>518000</arg_value:opensource>\n"
      "</tool_call:opensource>\n<tool_call:opensource>get_time<tool_sep:opensource>\n</tool_call:opensource>\n"
      "</tool_calls:opensource>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::Hy3, text);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.content, "Checking.");
  ToolCallParser p(ToolCallFormat::Hy3, kWeatherTools);
  ToolCallDelta typed = p.push(text);
  ToolCallDelta tail = p.finish();
  typed.calls.insert(typed.calls.end(), tail.calls.begin(), tail.calls.end());
  ASSERT_EQ(typed.calls.size(), 2u);
  const auto a = args(typed.calls[0]);
  EXPECT_EQ(typed.calls[0].name, "get_weather");
  EXPECT_EQ(a["city"], "深圳");
  EXPECT_EQ(a["days"], 2);
  EXPECT_EQ(a["zip"], "518000");  // a string parameter stays a string
  EXPECT_EQ(typed.calls[1].name, "get_time");
  EXPECT_EQ(args(typed.calls[1]), nlohmann::json::object());
  // A call without its <tool_sep> is not a call: the text comes back as content.
  const std::string bad = "<tool_calls:opensource><tool_call:opensource>f</tool_call:opensource></tool_calls:opensource>";
  EXPECT_EQ(parse_every_way(ToolCallFormat::Hy3, bad).content, bad);
}

TEST(ToolCallParser, MiniMaxM2Invokes) {
  const std::string text =
      "<think>x</think>Sure.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">上海</parameter>\n"
      "<parameter name=\"days\">2</parameter>\n<parameter name=\"zip\">\n200000\n</parameter>\n</invoke>\n"
      "<invoke name=\"get_time\">\n</invoke>\n</minimax:tool_call>";
  const ToolCallDelta d = parse_every_way(ToolCallFormat::MiniMaxM2, text);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.content, "<think>x</think>Sure.\n");
  ToolCallParser p(ToolCallFormat::MiniMaxM2, kWeatherTools);
  ToolCallDelta typed = p.push(text);
  ToolCallDelta tail = p.finish();
  typed.calls.insert(typed.calls.end(), tail.calls.begin(), tail.calls.end());
  ASSERT_EQ(typed.calls.size(), 2u);
  const auto a = args(typed.calls[0]);
  EXPECT_EQ(typed.calls[0].name, "get_weather");
  EXPECT_EQ(a["city"], "上海");
  EXPECT_EQ(a["days"], 2);
  EXPECT_EQ(a["zip"], "200000");
  EXPECT_EQ(typed.calls[1].name, "get_time");
}

TEST(ToolCallParser, MalformedBlocksStayText) {
  // No argument marker (Kimi), no name (GLM), no name attribute (MiniMax): returned as text.
  const std::string kimi = "<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0{}<|tool_call_end|><|tool_calls_section_end|>";
  EXPECT_EQ(parse_every_way(ToolCallFormat::KimiK2, kimi).content, kimi);
  const std::string glm = "<tool_call>\n<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>";
  EXPECT_EQ(parse_every_way(ToolCallFormat::Glm45, glm).content, glm);
  const std::string mm = "<minimax:tool_call><invoke>\n</invoke></minimax:tool_call>";
  EXPECT_EQ(parse_every_way(ToolCallFormat::MiniMaxM2, mm).content, mm);
}

TEST(ToolCallParser, NoneFormatPassesThrough) {
  const ToolCallDelta d = parse_pieces(ToolCallFormat::None, {"<tool_call>{\"name\": \"f\"}</tool_call>"});
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.content, "<tool_call>{\"name\": \"f\"}</tool_call>");
}

}  // namespace
}  // namespace dragon::chat
