// tool_choice "required" or {"type": "function", "function": {"name": ...}}: the answer must be
// a call (of that function), enforced by constrained decoding in the model's own format, so
// the tool-call parser always finds one valid call of an allowed tool:
//   Hermes (Qwen):  "<tool_call>\n" + {"name": NAME, "arguments": PARAMETERS} + "\n</tool_call>",
//                   one JSON document whose anyOf picks the tool;
//   DeepSeek V3/R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n
//                   PARAMETERS\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜> (V3.1+ templates, which
//                   have no ```json fence: NAME<｜tool▁sep｜>PARAMETERS);
//   Kimi-K2:        <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0
//                   <|tool_call_argument_begin|>PARAMETERS<|tool_call_end|><|tool_calls_section_end|>;
//   GLM-4.5:        <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n...</tool_call>;
//   MiniMax-M2:     <minimax:tool_call>\n<invoke name="NAME">\n<parameter name="K">V</parameter>\n...
//                   </invoke>\n</minimax:tool_call>.
// Where the name sits outside the JSON, each allowed tool is one alternative (AnyOfConstraint).
// GLM and MiniMax write each argument on its own: a string parameter as bare text (no quotes,
// no '<'; its string schema still checked), any other as JSON matching the parameter's schema
// — what their parsers read back. Their calls hold the required parameters and any of the
// optional ones, in the schema's order (each optional argument is an optional group of the
// constraint). A parameter schema outside the enforced subset falls back to any JSON object
// (any JSON value for a GLM / MiniMax argument; any string for a string one).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/engine.h"
#include "server/served_model.h"

namespace dragon::server {

// The schema of one Hermes call object: an anyOf over the allowed tools (`name` empty: all of
// them); a tool whose parameters cannot be enforced takes any object as arguments.
nlohmann::json forced_call_schema(const nlohmann::ordered_json& tools, const std::string& name, bool typed_arguments = true);

// A constraint forcing one call in the model's format, or nullptr when the format has none.
std::shared_ptr<TokenConstraint> forced_tool_call_constraint(const ServedModel& model, const nlohmann::ordered_json& tools,
                                                             const std::string& name, int64_t max_tokens);

}  // namespace dragon::server
