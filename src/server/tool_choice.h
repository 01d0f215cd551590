// tool_choice "required" or {"type": "function", "function": {"name": ...}}: the answer must be
// a call (of that function). For templates in the Hermes format (Qwen) it is enforced by the
// JSON Schema constraint: "<tool_call>\n" + {"name": NAME, "arguments": PARAMETERS} +
// "\n</tool_call>", NAME one of the allowed tools and the arguments matching that tool's
// parameter schema (any object when the parameters use keywords constrained decoding does not
// enforce). Other formats write their calls with special tokens; there tool_choice is only
// passed on to the template.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/engine.h"
#include "server/served_model.h"

namespace dragon::server {

// The schema of one call object: an anyOf over the allowed tools (`name` empty: all of them).
nlohmann::json forced_call_schema(const nlohmann::ordered_json& tools, const std::string& name, bool typed_arguments = true);

// A constraint forcing one call in the model's format, or nullptr when the format has none.
std::shared_ptr<TokenConstraint> forced_tool_call_constraint(const ServedModel& model, const nlohmann::ordered_json& tools,
                                                             const std::string& name, int64_t max_tokens);

}  // namespace dragon::server
