#include "chat/tool_call_parser.h"

#include "chat/tool_call_blocks.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace dragon::chat {

namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kDsCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kDsCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kDsCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kDsCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kDsSep = "<｜tool▁sep｜>";

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

// Arguments as OpenAI sends them: a JSON object serialized to text. Returns false if `text` is
// not JSON.
bool normalize_arguments(std::string_view text, std::string& out) {
  const nlohmann::json args = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (args.is_discarded()) return false;
  out = args.dump();
  return true;
}

// {"name": "f", "arguments": {...}} (Hermes; "parameters" is accepted for "arguments" too).
bool parse_hermes_call(std::string_view body, std::vector<ToolCall>& calls) {
  const nlohmann::json j = nlohmann::json::parse(trim(body), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  ToolCall call;
  call.name = j["name"].get<std::string>();
  const char* key = j.contains("arguments") ? "arguments" : "parameters";
  if (!j.contains(key) || j[key].is_null())
    call.arguments = "{}";
  else if (j[key].is_string())
    call.arguments = j[key].get<std::string>();  // already serialized by the model
  else
    call.arguments = j[key].dump();
  calls.push_back(std::move(call));
  return true;
}

// One DeepSeek call between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>:
//   V3/R1:  "function" SEP name "\n```json\n" args "\n```"
//   V3.1+:  name SEP args
bool parse_deepseek_call(std::string_view call_text, std::vector<ToolCall>& calls) {
  const size_t sep = call_text.find(kDsSep);
  if (sep == std::string_view::npos) return false;
  const std::string_view head = trim(call_text.substr(0, sep));
  std::string_view rest = call_text.substr(sep + kDsSep.size());
  ToolCall call;
  if (head == "function") {
    const size_t nl = rest.find('\n');
    call.name = std::string(trim(rest.substr(0, nl)));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    rest = trim(rest);
    if (rest.substr(0, 3) == "```") {
      const size_t eol = rest.find('\n');
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      const size_t fence = rest.rfind("```");
      if (fence != std::string_view::npos) rest = rest.substr(0, fence);
    }
  } else {
    call.name = std::string(head);
  }
  if (call.name.empty()) return false;
  const std::string_view args = trim(rest);
  if (args.empty())
    call.arguments = "{}";
  else if (!normalize_arguments(args, call.arguments))
    return false;
  calls.push_back(std::move(call));
  return true;
}

}  // namespace

ToolCallFormat tool_call_format_of_template(std::string_view source) {
  if (source.find("tool▁calls▁begin") != std::string_view::npos) return ToolCallFormat::DeepSeekV3;
  if (source.find("<|tool_calls_section_begin|>") != std::string_view::npos) return ToolCallFormat::KimiK2;
  if (source.find("<minimax:tool_call>") != std::string_view::npos || source.find("minimax:tool_call") != std::string_view::npos)
    return ToolCallFormat::MiniMaxM2;
  // GLM's template also says <tool_call>: its <arg_key> tells it from Hermes.
  if (source.find("<arg_key>") != std::string_view::npos) return ToolCallFormat::Glm45;
  if (source.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::Hermes;
  return ToolCallFormat::None;
}

const char* tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::Hermes: return "hermes";
    case ToolCallFormat::DeepSeekV3: return "deepseek-v3";
    case ToolCallFormat::KimiK2: return "kimi-k2";
    case ToolCallFormat::Glm45: return "glm-4.5";
    case ToolCallFormat::MiniMaxM2: return "minimax-m2";
    case ToolCallFormat::None: break;
  }
  return "none";
}

bool tool_call_markers_are_special(ToolCallFormat format) {
  return format != ToolCallFormat::None && format != ToolCallFormat::Hermes;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, nlohmann::json tools) : format_(format), tools_(std::move(tools)) {
  switch (format) {
    case ToolCallFormat::Hermes: case ToolCallFormat::Glm45: open_ = kHermesOpen; close_ = kHermesClose; break;
    case ToolCallFormat::DeepSeekV3: open_ = kDsCallsBegin; close_ = kDsCallsEnd; break;
    case ToolCallFormat::KimiK2: open_ = "<|tool_calls_section_begin|>"; close_ = "<|tool_calls_section_end|>"; break;
    case ToolCallFormat::MiniMaxM2: open_ = "<minimax:tool_call>"; close_ = "</minimax:tool_call>"; break;
    case ToolCallFormat::None: break;
  }
}

bool ToolCallParser::parse_block(std::string_view body, std::vector<ToolCall>& calls) const {
  if (format_ == ToolCallFormat::Hermes) return parse_hermes_call(body, calls);
  if (format_ == ToolCallFormat::KimiK2) return parse_kimi_block(body, calls);
  if (format_ == ToolCallFormat::Glm45) return parse_glm_call(body, tools_, calls);
  if (format_ == ToolCallFormat::MiniMaxM2) return parse_minimax_block(body, tools_, calls);
  // DeepSeek: a block holds one or more calls.
  std::vector<ToolCall> found;
  size_t at = 0;
  while ((at = body.find(kDsCallBegin, at)) != std::string_view::npos) {
    at += kDsCallBegin.size();
    size_t end = body.find(kDsCallEnd, at);
    const std::string_view call = body.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (!parse_deepseek_call(call, found)) return false;
    if (end == std::string_view::npos) break;
    at = end + kDsCallEnd.size();
  }
  if (found.empty()) return false;
  calls.insert(calls.end(), found.begin(), found.end());
  return true;
}

void ToolCallParser::scan(ToolCallDelta& out, bool at_end) {
  for (;;) {
    if (!in_block_) {
      const size_t at = pending_.find(open_);
      if (at != std::string::npos) {
        out.content += pending_.substr(0, at);
        pending_.erase(0, at);
        in_block_ = true;
        continue;
      }
      const size_t keep = at_end ? 0 : partial_tag_suffix(pending_, open_);
      out.content += pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
      return;
    }
    // In a block: pending_ starts with the open marker.
    const size_t end = pending_.find(close_, open_.size());
    if (end == std::string::npos && !at_end) return;
    const size_t body_end = end == std::string::npos ? pending_.size() : end;
    const std::string_view body = std::string_view(pending_).substr(open_.size(), body_end - open_.size());
    const size_t consumed = end == std::string::npos ? pending_.size() : end + close_.size();
    if (!parse_block(body, out.calls)) out.content += pending_.substr(0, consumed);
    pending_.erase(0, consumed);
    in_block_ = false;
    if (at_end && pending_.empty()) return;
  }
}

ToolCallDelta ToolCallParser::push(std::string_view text) {
  ToolCallDelta out;
  if (format_ == ToolCallFormat::None) {
    out.content = std::string(text);
    return out;
  }
  pending_.append(text);
  scan(out, false);
  return out;
}

ToolCallDelta ToolCallParser::finish() {
  ToolCallDelta out;
  if (format_ == ToolCallFormat::None) return out;
  scan(out, true);
  return out;
}

}  // namespace dragon::chat
