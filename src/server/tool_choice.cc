#include "server/tool_choice.h"

#include "server/json_schema_constraint.h"
#include "util/error.h"

namespace dragon::server {

using json = nlohmann::json;

json forced_call_schema(const nlohmann::ordered_json& tools, const std::string& name, bool typed_arguments) {
  json alternatives = json::array();
  for (const auto& tool : tools) {
    const auto& fn = tool["function"];
    const std::string tool_name = fn["name"].is_string() ? fn["name"].get<std::string>() : "";
    if (!name.empty() && tool_name != name) continue;
    json arguments = {{"type", "object"}};
    if (typed_arguments && fn.contains("parameters") && fn["parameters"].is_object()) arguments = json::parse(fn["parameters"].dump());
    alternatives.push_back({{"type", "object"},
                            {"properties", {{"name", {{"const", tool_name}}}, {"arguments", arguments}}},
                            {"required", {"name", "arguments"}},
                            {"additionalProperties", false}});
  }
  if (alternatives.size() == 1) return alternatives[0];
  return {{"anyOf", alternatives}};
}

std::shared_ptr<TokenConstraint> forced_tool_call_constraint(const ServedModel& model, const nlohmann::ordered_json& tools,
                                                             const std::string& name, int64_t max_tokens) {
  if (model.tool_format != chat::ToolCallFormat::Hermes) return nullptr;
  std::shared_ptr<const JsonSchema> schema;
  try {
    schema = JsonSchema::compile(forced_call_schema(tools, name));
  } catch (const Error&) {
    // A parameter schema outside the enforced subset: the call's shape is still enforced.
    schema = JsonSchema::compile(forced_call_schema(tools, name, /*typed_arguments=*/false));
  }
  return std::make_shared<JsonSchemaConstraint>(schema, model.token_table(), model.stop_tokens, max_tokens, "<tool_call>\n",
                                                "\n</tool_call>");
}

}  // namespace dragon::server
