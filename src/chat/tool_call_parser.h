// Finds the tool calls a model writes in its own native format and separates them from the
// answer's text:
//   Hermes / Qwen2.5 / Qwen3 / QwQ:  <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
//   DeepSeek-V3 / R1:   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{...}\n```<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
//   DeepSeek-V3.1+:     <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{...}<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
// The format comes from the chat template (the markers it teaches the model).
//
// Streaming-safe: push() returns the text that is certainly content and each call as soon as it
// is complete; text that could be the start of a marker is held back. A block that does not
// parse (bad JSON, no name) is returned as content rather than dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dragon::chat {

enum class ToolCallFormat { None, Hermes, DeepSeekV3 };

// The format a chat template teaches, or None.
ToolCallFormat tool_call_format_of_template(std::string_view template_source);
const char* tool_call_format_name(ToolCallFormat format);

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object, as text (OpenAI's `function.arguments`)
};

struct ToolCallDelta {
  std::string content;
  std::vector<ToolCall> calls;
};

class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallFormat format);

  ToolCallDelta push(std::string_view text);
  ToolCallDelta finish();  // an unterminated block is parsed if it can be, else returned as text

 private:
  void scan(ToolCallDelta& out, bool at_end);
  bool parse_block(std::string_view body, std::vector<ToolCall>& calls) const;

  ToolCallFormat format_;
  std::string open_, close_;  // the markers around one block
  std::string pending_;
  bool in_block_ = false;
};

}  // namespace dragon::chat
