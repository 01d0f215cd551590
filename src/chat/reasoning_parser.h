// Splits a thinking model's streamed answer into its reasoning and its visible content:
// Qwen3, QwQ, DeepSeek-R1 and GLM-4.5+ write `<think> ... </think>` before the answer, Hunyuan
// Hy3 `<think:opensource> ... </think:opensource>`.
//
// Streaming-safe: push() takes text in any pieces (a tag may be split across tokens) and returns
// only what is certain; a tail that could still be the start of a tag is held back until the next
// piece or finish(). Some templates open the block in the prompt itself (DeepSeek-R1 ends the
// prompt with "<think>\n"): then the answer starts inside the reasoning (`starts_in_reasoning`).
// An answer that does not begin with the open tag (after whitespace) is all content. The
// whitespace the templates put around the reasoning ("<think>\n...\n</think>\n\n") is trimmed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dragon::chat {

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

// The markers a template writes its reasoning block with.
struct ReasoningTags {
  std::string open = "<think>";
  std::string close = "</think>";
};

// The reasoning markers a chat template writes, or none when it has no reasoning block. Hy3's
// template builds its markers as '<think{}>'.format(HYTK) with HYTK ':opensource'.
std::optional<ReasoningTags> reasoning_tags_of_template(std::string_view template_source);

class ReasoningParser {
 public:
  explicit ReasoningParser(bool starts_in_reasoning = false, ReasoningTags tags = {});

  // Markers that end the reasoning without its close tag and begin the content (the marker
  // itself is content): Kimi-K2-Thinking may open its tool-call section while still thinking.
  void set_implicit_ends(std::vector<std::string> markers) { implicit_ends_ = std::move(markers); }

  ReasoningDelta push(std::string_view text);
  ReasoningDelta finish();  // flushes what was held back

 private:
  enum class State { Start, Reasoning, AfterReasoning, Content };
  State state_;
  std::string open_, close_;
  std::vector<std::string> implicit_ends_;
  std::string pending_;
  bool reasoning_started_ = false;  // a non-space character of the reasoning was emitted
};

// Whether a rendered prompt leaves the model inside a reasoning block (it ends with an open
// <think> not closed after it), e.g. DeepSeek-R1's and GLM-4.6's templates.
bool prompt_opens_reasoning(std::string_view prompt, const ReasoningTags& tags = {});

}  // namespace dragon::chat
