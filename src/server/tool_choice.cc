#include "server/tool_choice.h"

#include <algorithm>
#include <vector>

#include "server/json_schema_constraint.h"
#include "util/error.h"

namespace dragon::server {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

using Seg = ConstraintSegment;

std::shared_ptr<const JsonSchema> compile_or(const json& schema, const json& fallback) {
  try {
    return JsonSchema::compile(schema);
  } catch (const Error&) {
    // Keywords constrained decoding does not enforce: the shape around the value still holds.
    return JsonSchema::compile(fallback);
  }
}

// The function objects of the allowed tools, in the request's order.
std::vector<ojson> allowed_functions(const ojson& tools, const std::string& name) {
  std::vector<ojson> out;
  for (const auto& tool : tools) {
    const ojson& fn = tool["function"];
    if (!fn["name"].is_string()) continue;
    if (name.empty() || fn["name"].get<std::string>() == name) out.push_back(fn);
  }
  return out;
}

ojson parameters_of(const ojson& fn) {
  if (fn.contains("parameters") && fn["parameters"].is_object()) return fn["parameters"];
  return ojson{{"type", "object"}};
}

// Literal, the arguments' JSON, literal.
std::vector<Seg> json_call(std::string before, const ojson& fn, std::string after) {
  const json params = json::parse(parameters_of(fn).dump());
  return {Seg::literal(std::move(before)), Seg::json(compile_or(params, {{"type", "object"}})), Seg::literal(std::move(after))};
}

// GLM's and MiniMax's per-argument layout.
struct ArgumentLayout {
  std::string open, key_open, key_close, value_close, close;  // open gets NAME appended before `head_end`
  std::string head_end;
};

// The parameters of a call in the order it writes them: the schema's order, required ones it
// does not list last; `optional` says which may be left out.
struct Argument {
  std::string name;
  bool optional = false;
};
std::vector<Argument> arguments_of(const ojson& params) {
  std::vector<std::string> required;
  if (params.contains("required") && params["required"].is_array())
    for (const auto& r : params["required"])
      if (r.is_string()) required.push_back(r.get<std::string>());
  const auto is_required = [&](const std::string& k) { return std::find(required.begin(), required.end(), k) != required.end(); };
  std::vector<Argument> out;
  if (params.contains("properties") && params["properties"].is_object())
    for (const auto& [key, _] : params["properties"].items()) out.push_back({key, !is_required(key)});
  for (const auto& k : required)
    if (std::find_if(out.begin(), out.end(), [&](const Argument& a) { return a.name == k; }) == out.end())
      out.push_back({k, false});
  return out;
}

// Each argument is a key literal, its value, and the value's closing literal; an optional one
// is an optional group of those three segments.
std::vector<Seg> tagged_call(const ArgumentLayout& l, const ojson& fn) {
  const ojson params = parameters_of(fn);
  std::vector<Seg> segs{Seg::literal(l.open + fn["name"].get<std::string>() + l.head_end)};
  for (const Argument& arg : arguments_of(params)) {
    json p = json::object();
    if (params.contains("properties") && params["properties"].contains(arg.name) && params["properties"][arg.name].is_object())
      p = json::parse(params["properties"][arg.name].dump());
    const std::string key = l.key_open + arg.name + l.key_close;
    segs.push_back(arg.optional ? Seg::optional_literal(key, 3) : Seg::literal(key));
    // The parsers keep a value as text exactly when the schema says "type": "string".
    if (p.contains("type") && p["type"] == "string")
      segs.push_back(Seg::bare_string(compile_or(p, {{"type", "string"}})));
    else
      segs.push_back(Seg::json(compile_or(p, json::object())));
    segs.push_back(Seg::literal(l.value_close));
  }
  segs.push_back(Seg::literal(l.close));
  return segs;
}

}  // namespace

json forced_call_schema(const ojson& tools, const std::string& name, bool typed_arguments) {
  json alternatives = json::array();
  for (const auto& tool : tools) {
    const auto& fn = tool["function"];
    const std::string tool_name = fn["name"].is_string() ? fn["name"].get<std::string>() : "";
    if (!name.empty() && tool_name != name) continue;
    json arguments = {{"type", "object"}};
    if (typed_arguments && fn.contains("parameters") && fn["parameters"].is_object()) {
      // A tool whose parameters use keywords constrained decoding does not enforce gets any
      // object as its arguments; the other tools keep their types.
      json params = json::parse(fn["parameters"].dump());
      try {
        JsonSchema::compile(params);
        arguments = std::move(params);
      } catch (const Error&) {
      }
    }
    alternatives.push_back({{"type", "object"},
                            {"properties", {{"name", {{"const", tool_name}}}, {"arguments", arguments}}},
                            {"required", {"name", "arguments"}},
                            {"additionalProperties", false}});
  }
  if (alternatives.size() == 1) return alternatives[0];
  return {{"anyOf", alternatives}};
}

std::shared_ptr<TokenConstraint> forced_tool_call_constraint(const ServedModel& model, const ojson& tools, const std::string& name,
                                                             int64_t max_tokens) {
  using chat::ToolCallFormat;
  const auto table = model.token_table();
  if (model.tool_format == ToolCallFormat::Hermes) {
    std::shared_ptr<const JsonSchema> schema;
    try {
      schema = JsonSchema::compile(forced_call_schema(tools, name));
    } catch (const Error&) {
      // A parameter schema outside the enforced subset: the call's shape is still enforced.
      schema = JsonSchema::compile(forced_call_schema(tools, name, /*typed_arguments=*/false));
    }
    return std::make_shared<JsonSchemaConstraint>(schema, table, model.stop_tokens, max_tokens, "<tool_call>\n", "\n</tool_call>");
  }
  // One alternative per allowed tool: each costs a pass over the vocabulary per token until the
  // tool's name tells them apart.
  const std::vector<ojson> functions = allowed_functions(tools, name);
  std::vector<std::vector<Seg>> calls;
  for (const ojson& fn : functions) {
    const std::string fname = fn["name"].get<std::string>();
    switch (model.tool_format) {
      case ToolCallFormat::DeepSeekV3:
        // The V3 / R1 templates fence the arguments as ```json; V3.1 and later write them bare.
        if (model.chat_template.source.find("```json") != std::string::npos)
          calls.push_back(json_call("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>" + fname + "\n```json\n", fn,
                                    "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"));
        else
          calls.push_back(json_call("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>" + fname + "<｜tool▁sep｜>", fn,
                                    "<｜tool▁call▁end｜><｜tool▁calls▁end｜>"));
        break;
      case ToolCallFormat::KimiK2:
        calls.push_back(json_call("<|tool_calls_section_begin|><|tool_call_begin|>functions." + fname +
                                      ":0<|tool_call_argument_begin|>",
                                  fn, "<|tool_call_end|><|tool_calls_section_end|>"));
        break;
      case ToolCallFormat::Glm45:
      case ToolCallFormat::MiniMaxM2: {
        const ArgumentLayout glm{"<tool_call>", "<arg_key>", "</arg_key>\n<arg_value>", "</arg_value>\n", "</tool_call>", "\n"};
        const ArgumentLayout minimax{"<minimax:tool_call>\n<invoke name=\"", "<parameter name=\"", "\">", "</parameter>\n",
                                     "</invoke>\n</minimax:tool_call>", "\">\n"};
        const ArgumentLayout& layout = model.tool_format == ToolCallFormat::Glm45 ? glm : minimax;
        calls.push_back(tagged_call(layout, fn));
        break;
      }
      default: return nullptr;
    }
  }
  if (calls.empty()) return nullptr;
  std::vector<std::shared_ptr<JsonSchemaConstraint>> alternatives;
  for (auto& segs : calls)
    alternatives.push_back(std::make_shared<JsonSchemaConstraint>(std::move(segs), table, model.stop_tokens, max_tokens));
  if (alternatives.size() == 1) return alternatives[0];
  return std::make_shared<AnyOfConstraint>(std::move(alternatives));
}

}  // namespace dragon::server
