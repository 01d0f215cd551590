#include "server/choice_output.h"

namespace dragon::server {

ChoiceOutput::ChoiceOutput(const std::optional<chat::ReasoningTags>& reasoning, bool starts_in_reasoning,
                           chat::ToolCallFormat tool_format, nlohmann::json tools)
    : parse_reasoning_(reasoning.has_value()), reasoning_(starts_in_reasoning, reasoning.value_or(chat::ReasoningTags{})),
      tools_(tool_format, std::move(tools)) {
  reasoning_.set_implicit_ends(chat::tool_calls_end_reasoning(tool_format));
}

void ChoiceOutput::add_content(OutputDelta& out, const std::string& text) {
  chat::ToolCallDelta d = tools_.push(text);
  out.content += d.content;
  tool_calls_ += int(d.calls.size());
  for (auto& c : d.calls) out.calls.push_back(std::move(c));
}

OutputDelta ChoiceOutput::push(const std::string& text) {
  OutputDelta out;
  if (!parse_reasoning_) {
    add_content(out, text);
    return out;
  }
  chat::ReasoningDelta r = reasoning_.push(text);
  out.reasoning = std::move(r.reasoning);
  if (!r.content.empty()) add_content(out, r.content);
  return out;
}

OutputDelta ChoiceOutput::finish() {
  OutputDelta out;
  if (parse_reasoning_) {
    chat::ReasoningDelta r = reasoning_.finish();
    out.reasoning = std::move(r.reasoning);
    if (!r.content.empty()) add_content(out, r.content);
  }
  chat::ToolCallDelta d = tools_.finish();
  out.content += d.content;
  tool_calls_ += int(d.calls.size());
  for (auto& c : d.calls) out.calls.push_back(std::move(c));
  return out;
}

}  // namespace dragon::server
