// The tool-call blocks of the families whose calls are not one JSON object, each parsed from
// the text between its block markers (ToolCallParser finds the markers while streaming):
//   Kimi-K2:     <|tool_calls_section_begin|> <|tool_call_begin|>functions.NAME:IDX
//                <|tool_call_argument_begin|>{json}<|tool_call_end|> ... <|tool_calls_section_end|>
//   GLM-4.5/4.6: <tool_call>NAME\n<arg_key>k</arg_key>\n<arg_value>v</arg_value>...</tool_call>
//                (GLM-4.7 drops the newline after the name)
//   MiniMax-M2:  <minimax:tool_call>\n<invoke name="NAME">\n<parameter name="k">v</parameter>...
//                </invoke>\n</minimax:tool_call>
//   Hy3:         <tool_calls:opensource>\n<tool_call:opensource>NAME<tool_sep:opensource>\n
//                <arg_key:opensource>k</arg_key:opensource>\n<arg_value:opensource>v</arg_value:opensource>\n
//                </tool_call:opensource>\n...</tool_calls:opensource>   (GLM's pairs, other markers)
// GLM, MiniMax and Hy3 write argument values as bare text: a value is kept as a string when the
// tool's JSON Schema says the parameter is a string, else read as JSON if it parses (numbers,
// booleans, objects), else kept as a string — as the families' reference parsers do.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

namespace dragon::chat {

struct ToolCall;

bool parse_kimi_block(std::string_view body, std::vector<ToolCall>& calls);
// `tools`: the request's tools (OpenAI shape), for the parameters' types; may be null.
bool parse_glm_call(std::string_view body, const nlohmann::json& tools, std::vector<ToolCall>& calls);
bool parse_minimax_block(std::string_view body, const nlohmann::json& tools, std::vector<ToolCall>& calls);
// `body`: the text between <tool_calls:opensource> and </tool_calls:opensource>.
bool parse_hy3_block(std::string_view body, const nlohmann::json& tools, std::vector<ToolCall>& calls);

}  // namespace dragon::chat
