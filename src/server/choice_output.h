// What one choice's generated text becomes for the client: the reasoning split out (thinking
// models), tool calls parsed out (when the request gave tools), the rest as content. Text goes
// through the reasoning parser first and its content part through the tool-call parser; both
// hold back partial markers, so streamed deltas never show half a tag.
#pragma once

#include <string>
#include <vector>

#include "chat/reasoning_parser.h"
#include "chat/tool_call_parser.h"

namespace dragon::server {

struct OutputDelta {
  std::string reasoning;
  std::string content;
  std::vector<chat::ToolCall> calls;
  bool empty() const { return reasoning.empty() && content.empty() && calls.empty(); }
};

class ChoiceOutput {
 public:
  // `reasoning`: the template's reasoning markers, none to leave the text unsplit.
  // `tools`: the request's tools, which give some formats' bare-text arguments their types.
  ChoiceOutput(const std::optional<chat::ReasoningTags>& reasoning, bool starts_in_reasoning,
               chat::ToolCallFormat tool_format, nlohmann::json tools = nullptr);
  OutputDelta push(const std::string& text);
  OutputDelta finish();  // flushes the parsers
  int tool_calls_made() const { return tool_calls_; }

 private:
  void add_content(OutputDelta& out, const std::string& text);

  bool parse_reasoning_;
  chat::ReasoningParser reasoning_;
  chat::ToolCallParser tools_;
  int tool_calls_ = 0;
};

}  // namespace dragon::server
