// Finds the tool calls a model writes in its own native format and separates them from the
// answer's text:
//   Hermes / Qwen2.5 / Qwen3 / QwQ:  <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
//   DeepSeek-V3 / R1:   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{...}\n```<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
//   DeepSeek-V3.1+:     <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{...}<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
//   Kimi-K2, GLM-4.5/4.6/4.7, MiniMax-M2, Hy3: see tool_call_blocks.h. Kimi's section markers come in
//   a plural (the template's) and a singular spelling (<|tool_call_section_begin|>, which some
//   checkpoints write); either is accepted, and so is a call with no section around it (as
//   llama.cpp's Kimi parser makes the section markers optional).
// The format comes from the chat template (the markers it teaches the model).
//
// Streaming-safe: push() returns the text that is certainly content and each call as soon as it
// is complete; text that could be the start of a marker is held back. A block that does not
// parse (bad JSON, no name) is returned as content rather than dropped.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace dragon::chat {

enum class ToolCallFormat { None, Hermes, DeepSeekV3, KimiK2, Glm45, MiniMaxM2, Hy3 };

// The format a chat template teaches, or None.
ToolCallFormat tool_call_format_of_template(std::string_view template_source);
const char* tool_call_format_name(ToolCallFormat format);
// The markers that open a call in a format whose model may start calling while still
// thinking, without closing its reasoning first (Kimi-K2-Thinking, as llama.cpp's and vLLM's
// parsers allow); empty for the others.
std::vector<std::string> tool_calls_end_reasoning(ToolCallFormat format);
// True when the format's markers are special tokens, which the detokenizer must then keep.
bool tool_call_markers_are_special(ToolCallFormat format);

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object, as text (OpenAI's `function.arguments`)
  std::string id;         // the model's own id for the call (Kimi: functions.NAME:IDX), or empty
};

struct ToolCallDelta {
  std::string content;
  std::vector<ToolCall> calls;
};

class ToolCallParser {
 public:
  // `tools` (the request's, OpenAI shape) gives GLM's and MiniMax's bare-text arguments their types.
  explicit ToolCallParser(ToolCallFormat format, nlohmann::json tools = nullptr);

  ToolCallDelta push(std::string_view text);
  ToolCallDelta finish();  // an unterminated block is parsed if it can be, else returned as text

 private:
  void scan(ToolCallDelta& out, bool at_end);
  bool parse_block(std::string_view body, std::vector<ToolCall>& calls) const;

  // One kind of block: its open marker and the markers that may close it. `whole`: the markers
  // are part of the call (Kimi's bare <|tool_call_begin|>...<|tool_call_end|>) and go to the
  // block parser with the body.
  struct BlockMarkers {
    std::string open;
    std::vector<std::string> closes;
    bool whole = false;
  };

  ToolCallFormat format_;
  nlohmann::json tools_;
  std::vector<BlockMarkers> blocks_;
  std::string pending_;
  int active_ = -1;  // the block kind pending_ starts with, or -1 outside a block
};

}  // namespace dragon::chat
