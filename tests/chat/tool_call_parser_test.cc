// Tool calls in the families' native formats, parsed out of streamed text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

TEST(ToolCallParser, NoneFormatPassesThrough) {
  const ToolCallDelta d = parse_pieces(ToolCallFormat::None, {"<tool_call>{\"name\": \"f\"}</tool_call>"});
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.content, "<tool_call>{\"name\": \"f\"}</tool_call>");
}

}  // namespace
}  // namespace dragon::chat
