// The reasoning parser: <think> blocks split out, whatever the pieces the text arrives in.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "chat/reasoning_parser.h"
#include "chat/tool_call_parser.h"

namespace dragon::chat {
namespace {

ReasoningDelta parse_pieces(const std::vector<std::string>& pieces, bool starts_inside = false,
                            const std::vector<std::string>& implicit_ends = {}, const ReasoningTags& tags = {}) {
  ReasoningParser p(starts_inside, tags);
  p.set_implicit_ends(implicit_ends);
  ReasoningDelta all;
  for (const auto& piece : pieces) {
    ReasoningDelta d = p.push(piece);
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  ReasoningDelta d = p.finish();
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

// Every way of cutting `text` in two, and byte by byte, gives the same split as one piece.
void expect_split(const std::string& text, const std::string& reasoning, const std::string& content,
                  bool starts_inside = false, const std::vector<std::string>& implicit_ends = {},
                  const ReasoningTags& tags = {}) {
  const ReasoningDelta whole = parse_pieces({text}, starts_inside, implicit_ends, tags);
  EXPECT_EQ(whole.reasoning, reasoning) << text;
  EXPECT_EQ(whole.content, content) << text;
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const ReasoningDelta d = parse_pieces({text.substr(0, cut), text.substr(cut)}, starts_inside, implicit_ends, tags);
    EXPECT_EQ(d.reasoning, reasoning) << "cut at " << cut;
    EXPECT_EQ(d.content, content) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  const ReasoningDelta d = parse_pieces(bytes, starts_inside, implicit_ends, tags);
  EXPECT_EQ(d.reasoning, reasoning) << "byte by byte";
  EXPECT_EQ(d.content, content) << "byte by byte";
}

TEST(ReasoningParser, Qwen3ThinkBlockThenAnswer) {
  expect_split("<think>\nThe user greets me.\n\nI greet back.\n</think>\n\nHello! 你好", "The user greets me.\n\nI greet back.",
               "Hello! 你好");
}

TEST(ReasoningParser, EmptyThinkBlockOfNonThinkingMode) {
  expect_split("<think>\n\n</think>\n\nJust the answer.", "", "Just the answer.");
}

TEST(ReasoningParser, NoTagIsAllContent) {
  expect_split("Plain answer with a <think> later", "", "Plain answer with a <think> later");
  expect_split("<thinking is not the tag", "", "<thinking is not the tag");
}

TEST(ReasoningParser, PromptOpenedTheBlockDeepSeekR1) {
  expect_split("Let me think. 1 < 2 and </thin is not it.\n</think>\n\nAnswer", "Let me think. 1 < 2 and </thin is not it.",
               "Answer", /*starts_inside=*/true);
}

TEST(ReasoningParser, AnswerCutOffWhileThinkingIsReasoning) {
  expect_split("<think>still thinking when max_tokens hit ", "still thinking when max_tokens hit", "");
}

// Kimi-K2-Thinking may open its tool-call section (either spelling) or a bare call while
// still thinking: the reasoning ends there and the call is content for the tool-call parser.
TEST(ReasoningParser, KimiToolCallEndsTheReasoning) {
  const auto ends = tool_calls_end_reasoning(ToolCallFormat::KimiK2);
  const std::string call = "<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{\"a\": 1}<|tool_call_end|>";
  for (const std::string open : {"<|tool_calls_section_begin|>", "<|tool_call_section_begin|>", ""}) {
    const std::string text = "<think>I should call f. \n" + open + call + (open.empty() ? "" : "<|tool_calls_section_end|>");
    expect_split(text, "I should call f.", open + call + (open.empty() ? "" : "<|tool_calls_section_end|>"), false, ends);
    const ReasoningDelta d = parse_pieces({text}, false, ends);
    ToolCallParser tools(ToolCallFormat::KimiK2);
    ToolCallDelta calls = tools.push(d.content);
    const ToolCallDelta tail = tools.finish();
    calls.calls.insert(calls.calls.end(), tail.calls.begin(), tail.calls.end());
    std::printf("  \"%s\": reasoning \"%s\", %zu call(s)\n", open.c_str(), d.reasoning.c_str(), calls.calls.size());
    ASSERT_EQ(calls.calls.size(), 1u);
    EXPECT_EQ(calls.calls[0].name, "f");
    EXPECT_EQ(calls.content + tail.content, "");
  }
  // Without the markers (another format) the call stays inside the reasoning.
  EXPECT_TRUE(tool_calls_end_reasoning(ToolCallFormat::Hermes).empty());
  expect_split("<think>plan <|tool_call_begin|>x", "plan <|tool_call_begin|>x", "");
}

TEST(ReasoningParser, StreamsReasoningBeforeTheCloseTag) {
  ReasoningParser p;
  EXPECT_EQ(p.push("<think>").reasoning, "");
  EXPECT_EQ(p.push("step one").reasoning, "step one");  // not held back: no tag can start here
  EXPECT_EQ(p.push(" then </th").reasoning, " then");    // the partial tag and the space before it wait
  ReasoningDelta d = p.push("ink>done");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "done");
}

TEST(ReasoningParser, PromptOpensReasoning) {
  EXPECT_TRUE(prompt_opens_reasoning("<｜Assistant｜><think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<think>x</think> earlier turn <|im_start|>assistant\n"));
}

TEST(ReasoningParser, Hy3OpensourceTags) {
  const ReasoningTags hy3{"<think:opensource>", "</think:opensource>"};
  expect_split("<think:opensource>\nweigh it\n</think:opensource>\n\nanswer", "weigh it", "answer", false, {}, hy3);
  // reasoning_effort low/high: the prompt ends with the open tag.
  expect_split("weigh it</think:opensource>answer", "weigh it", "answer", true, {}, hy3);
  // Plain <think> is text to Hy3's parser, and Hy3's tags are text to the default one.
  expect_split("<think>x</think>y", "", "<think>x</think>y", false, {}, hy3);
  expect_split("<think:opensource>x</think:opensource>y", "", "<think:opensource>x</think:opensource>y");
  EXPECT_TRUE(prompt_opens_reasoning("<｜hy_Assistant:opensource｜><think:opensource>", hy3));
  EXPECT_FALSE(prompt_opens_reasoning("<｜hy_Assistant:opensource｜><think:opensource></think:opensource>", hy3));
  EXPECT_FALSE(prompt_opens_reasoning("<｜hy_Assistant:opensource｜><think:opensource>"));
}

TEST(ReasoningParser, TagsOfTemplates) {
  EXPECT_FALSE(reasoning_tags_of_template("{{ messages[0].content }}").has_value());
  const auto qwen = reasoning_tags_of_template("{{ '<think>\n' + r + '\n</think>\n\n' }}");
  ASSERT_TRUE(qwen.has_value());
  EXPECT_EQ(qwen->open, "<think>");
  EXPECT_EQ(qwen->close, "</think>");
  // Hy3 builds its markers with format(); a template that only names them literally counts too.
  const auto hy3 = reasoning_tags_of_template("{%- set HYTK = ':opensource' %}{%- set e = '</think{}>'.format(HYTK) %}");
  ASSERT_TRUE(hy3.has_value());
  EXPECT_EQ(hy3->open, "<think:opensource>");
  EXPECT_EQ(hy3->close, "</think:opensource>");
  EXPECT_EQ(reasoning_tags_of_template("x</think:opensource>")->close, "</think:opensource>");

  const auto dir = std::filesystem::path(DRAGON_SOURCE_DIR) / "build" / "llama.cpp" / "models" / "templates";
  const auto read = [&](const char* name) {
    std::ifstream in(dir / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  if (!std::filesystem::exists(dir / "tencent-Hy3.jinja")) GTEST_SKIP() << "no " << dir;
  EXPECT_EQ(reasoning_tags_of_template(read("tencent-Hy3.jinja"))->open, "<think:opensource>");
  EXPECT_EQ(reasoning_tags_of_template(read("Qwen-Qwen3-0.6B.jinja"))->open, "<think>");
  EXPECT_EQ(reasoning_tags_of_template(read("deepseek-ai-DeepSeek-V3.1.jinja"))->open, "<think>");
  EXPECT_FALSE(reasoning_tags_of_template(read("moonshotai-Kimi-K2.jinja")).has_value());
}

}  // namespace
}  // namespace dragon::chat
