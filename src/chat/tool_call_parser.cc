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
  // Hy3's template builds its markers as '<tool_sep{}>'.format(HYTK) with HYTK ':opensource'.
  if (source.find("<tool_sep{}>") != std::string_view::npos || source.find("<tool_sep:opensource>") != std::string_view::npos)
    return ToolCallFormat::Hy3;
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
    case ToolCallFormat::Hy3: return "hy3";
    case ToolCallFormat::None: break;
  }
  return "none";
}

std::vector<std::string> tool_calls_end_reasoning(ToolCallFormat format) {
  if (format != ToolCallFormat::KimiK2) return {};
  return {"<|tool_calls_section_begin|>", "<|tool_call_section_begin|>", "<|tool_call_begin|>"};
}

bool tool_call_markers_are_special(ToolCallFormat format) {
  return format != ToolCallFormat::None && format != ToolCallFormat::Hermes;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, nlohmann::json tools) : format_(format), tools_(std::move(tools)) {
  const std::string hermes_open(kHermesOpen), hermes_close(kHermesClose);
  switch (format) {
    case ToolCallFormat::Hermes: case ToolCallFormat::Glm45: blocks_ = {{hermes_open, {hermes_close}}}; break;
    case ToolCallFormat::DeepSeekV3: blocks_ = {{std::string(kDsCallsBegin), {std::string(kDsCallsEnd)}}}; break;
    case ToolCallFormat::KimiK2: {
      const std::string plural_open = "<|tool_calls_section_begin|>", plural_close = "<|tool_calls_section_end|>";
      const std::string singular_open = "<|tool_call_section_begin|>", singular_close = "<|tool_call_section_end|>";
      blocks_ = {{plural_open, {plural_close, singular_close}},
                 {singular_open, {singular_close, plural_close}},
                 {"<|tool_call_begin|>", {"<|tool_call_end|>"}, /*whole=*/true}};
      break;
    }
    case ToolCallFormat::MiniMaxM2: blocks_ = {{"<minimax:tool_call>", {"</minimax:tool_call>"}}}; break;
    case ToolCallFormat::Hy3: blocks_ = {{"<tool_calls:opensource>", {"</tool_calls:opensource>"}}}; break;
    case ToolCallFormat::None: break;
  }
}

bool ToolCallParser::parse_block(std::string_view body, std::vector<ToolCall>& calls) const {
  if (format_ == ToolCallFormat::Hermes) return parse_hermes_call(body, calls);
  if (format_ == ToolCallFormat::KimiK2) return parse_kimi_block(body, calls);
  if (format_ == ToolCallFormat::Glm45) return parse_glm_call(body, tools_, calls);
  if (format_ == ToolCallFormat::MiniMaxM2) return parse_minimax_block(body, tools_, calls);
  if (format_ == ToolCallFormat::Hy3) return parse_hy3_block(body, tools_, calls);
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
    if (active_ < 0) {
      // The earliest open marker of any block kind (the longer one when two start together).
      size_t at = std::string::npos;
      for (size_t i = 0; i < blocks_.size(); ++i) {
        const size_t found = pending_.find(blocks_[i].open);
        if (found == std::string::npos) continue;
        if (found < at || (found == at && blocks_[i].open.size() > blocks_[size_t(active_)].open.size())) {
          at = found;
          active_ = int(i);
        }
      }
      if (active_ >= 0) {
        out.content += pending_.substr(0, at);
        pending_.erase(0, at);
        continue;
      }
      size_t keep = 0;
      if (!at_end)
        for (const auto& b : blocks_) keep = std::max(keep, partial_tag_suffix(pending_, b.open));
      out.content += pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
      return;
    }
    // In a block: pending_ starts with its open marker; the earliest of its close markers ends it.
    const BlockMarkers& block = blocks_[size_t(active_)];
    size_t end = std::string::npos, close_size = 0;
    for (const auto& close : block.closes) {
      const size_t found = pending_.find(close, block.open.size());
      if (found < end) end = found, close_size = close.size();
    }
    if (end == std::string::npos && !at_end) return;
    const size_t consumed = end == std::string::npos ? pending_.size() : end + close_size;
    const size_t body_end = end == std::string::npos ? pending_.size() : end;
    const std::string_view body = block.whole ? std::string_view(pending_).substr(0, consumed)
                                              : std::string_view(pending_).substr(block.open.size(), body_end - block.open.size());
    if (!parse_block(body, out.calls)) out.content += pending_.substr(0, consumed);
    pending_.erase(0, consumed);
    active_ = -1;
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
