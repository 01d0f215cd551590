#include "chat/tool_call_blocks.h"

#include "chat/tool_call_parser.h"

namespace dragon::chat {

namespace {

using json = nlohmann::json;

constexpr std::string_view kKimiCallBegin = "<|tool_call_begin|>";
constexpr std::string_view kKimiArgBegin = "<|tool_call_argument_begin|>";
constexpr std::string_view kKimiCallEnd = "<|tool_call_end|>";

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// The text between `open` and `close` starting the search at `at`; npos-safe. Moves `at` past
// `close` (or to the end when it is missing, which a cut-off answer gives).
bool between(std::string_view text, size_t& at, std::string_view open, std::string_view close, std::string_view& out) {
  const size_t start = text.find(open, at);
  if (start == std::string_view::npos) return false;
  const size_t body = start + open.size();
  const size_t end = text.find(close, body);
  out = text.substr(body, end == std::string_view::npos ? std::string_view::npos : end - body);
  at = end == std::string_view::npos ? text.size() : end + close.size();
  return true;
}

// The JSON Schema type of parameter `key` of tool `name`, or "" when the tools do not say.
std::string parameter_type(const json& tools, const std::string& name, const std::string& key) {
  if (!tools.is_array()) return "";
  for (const auto& tool : tools) {
    const json* fn = tool.contains("function") ? &tool["function"] : &tool;
    if (!fn->is_object() || fn->value("name", "") != name) continue;
    const json& params = fn->contains("parameters") ? (*fn)["parameters"] : json();
    if (!params.is_object() || !params.contains("properties") || !params["properties"].contains(key)) return "";
    const json& p = params["properties"][key];
    if (p.contains("type") && p["type"].is_string()) return p["type"].get<std::string>();
    return "";
  }
  return "";
}

// A bare-text argument value as JSON (see the header).
json argument_value(std::string_view text, const std::string& type) {
  if (type == "string") return std::string(text);
  const json v = json::parse(trim(text), nullptr, false);
  if (!v.is_discarded()) return v;
  return std::string(text);
}

// The value of attribute name="..." in a tag's text.
bool name_attribute(std::string_view tag, std::string& out) {
  const size_t at = tag.find("name=");
  if (at == std::string_view::npos) return false;
  std::string_view rest = trim(tag.substr(at + 5));
  if (rest.empty()) return false;
  const char quote = rest.front();
  if (quote == '"' || quote == '\'') {
    const size_t end = rest.find(quote, 1);
    if (end == std::string_view::npos) return false;
    out = std::string(rest.substr(1, end - 1));
  } else {
    out = std::string(trim(rest.substr(0, rest.find('>'))));
  }
  return !out.empty();
}

// MiniMax values sit on their own lines: one newline each side is layout, not value.
std::string_view strip_newlines(std::string_view v) {
  if (!v.empty() && v.front() == '\n') v.remove_prefix(1);
  if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
  return v;
}

}  // namespace

bool parse_kimi_block(std::string_view body, std::vector<ToolCall>& calls) {
  std::vector<ToolCall> found;
  size_t at = 0;
  std::string_view call;
  while (between(body, at, kKimiCallBegin, kKimiCallEnd, call)) {
    const size_t arg = call.find(kKimiArgBegin);
    if (arg == std::string_view::npos) return false;
    // "functions.NAME:IDX": the id the template writes back in the tool's answer.
    const std::string_view id = trim(call.substr(0, arg));
    std::string_view name = id.substr(0, id.rfind(':'));
    if (name.substr(0, 10) == "functions.") name.remove_prefix(10);
    if (name.empty()) return false;
    ToolCall c;
    c.id = std::string(id);
    c.name = std::string(name);
    const std::string_view args = trim(call.substr(arg + kKimiArgBegin.size()));
    if (args.empty()) {
      c.arguments = "{}";
    } else {
      const json j = json::parse(args, nullptr, false);
      if (j.is_discarded()) return false;
      c.arguments = j.dump();
    }
    found.push_back(std::move(c));
  }
  if (found.empty()) return false;
  calls.insert(calls.end(), found.begin(), found.end());
  return true;
}

bool parse_glm_call(std::string_view body, const json& tools, std::vector<ToolCall>& calls) {
  const size_t first_arg = body.find("<arg_key>");
  const std::string_view head = body.substr(0, std::min(first_arg, body.find('\n')));
  ToolCall c;
  c.name = std::string(trim(head));
  if (c.name.empty() || c.name.find('<') != std::string::npos) return false;
  json args = json::object();
  size_t at = first_arg == std::string_view::npos ? body.size() : first_arg;
  std::string_view key, value;
  while (between(body, at, "<arg_key>", "</arg_key>", key)) {
    if (!between(body, at, "<arg_value>", "</arg_value>", value)) return false;
    const std::string k(trim(key));
    args[k] = argument_value(value, parameter_type(tools, c.name, k));
  }
  c.arguments = args.dump();
  calls.push_back(std::move(c));
  return true;
}

bool parse_hy3_block(std::string_view body, const json& tools, std::vector<ToolCall>& calls) {
  std::vector<ToolCall> found;
  size_t at = 0;
  std::string_view call;
  while (between(body, at, "<tool_call:opensource>", "</tool_call:opensource>", call)) {
    const size_t sep = call.find("<tool_sep:opensource>");
    if (sep == std::string_view::npos) return false;
    ToolCall c;
    c.name = std::string(trim(call.substr(0, sep)));
    if (c.name.empty() || c.name.find('<') != std::string::npos) return false;
    json args = json::object();
    size_t p = sep;
    std::string_view key, value;
    while (between(call, p, "<arg_key:opensource>", "</arg_key:opensource>", key)) {
      if (!between(call, p, "<arg_value:opensource>", "</arg_value:opensource>", value)) return false;
      const std::string k(trim(key));
      args[k] = argument_value(value, parameter_type(tools, c.name, k));
    }
    c.arguments = args.dump();
    found.push_back(std::move(c));
  }
  if (found.empty()) return false;
  calls.insert(calls.end(), found.begin(), found.end());
  return true;
}

bool parse_minimax_block(std::string_view body, const json& tools, std::vector<ToolCall>& calls) {
  std::vector<ToolCall> found;
  size_t at = 0;
  std::string_view invoke;
  while (between(body, at, "<invoke", "</invoke>", invoke)) {
    const size_t tag_end = invoke.find('>');
    if (tag_end == std::string_view::npos) return false;
    ToolCall c;
    if (!name_attribute(invoke.substr(0, tag_end), c.name)) return false;
    json args = json::object();
    const std::string_view params = invoke.substr(tag_end + 1);
    size_t p = 0;
    std::string_view param;
    while (between(params, p, "<parameter", "</parameter>", param)) {
      const size_t open_end = param.find('>');
      std::string key;
      if (open_end == std::string_view::npos || !name_attribute(param.substr(0, open_end), key)) return false;
      args[key] = argument_value(strip_newlines(param.substr(open_end + 1)), parameter_type(tools, c.name, key));
    }
    c.arguments = args.dump();
    found.push_back(std::move(c));
  }
  if (found.empty()) return false;
  calls.insert(calls.end(), found.begin(), found.end());
  return true;
}

}  // namespace dragon::chat
