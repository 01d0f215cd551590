// The streaming parsers the server runs over a model's answer: tool calls (Hermes / Qwen and
// DeepSeek-V3 markers) and reasoning (<think> ... </think>). The input is an answer cut into
// pieces at every 0x01 byte; the first byte picks the format and whether the prompt opened the
// reasoning. Besides not crashing, streaming must not change the result: the pieces pushed one by
// one must give the same content, reasoning and calls as the whole answer pushed at once.
#include <cstddef>
#include <cstdint>

#include "chat/reasoning_parser.h"
#include "chat/tool_call_parser.h"
#include "fuzz/fuzz_support.h"

using namespace dragon;
using namespace dragon::chat;

namespace {

struct ToolResult {
  std::string content;
  std::vector<std::pair<std::string, std::string>> calls;
  void add(const ToolCallDelta& d) {
    content += d.content;
    for (const ToolCall& c : d.calls) calls.emplace_back(c.name, c.arguments);
  }
  bool operator==(const ToolResult& o) const { return content == o.content && calls == o.calls; }
};

ToolResult run_tools(ToolCallFormat format, const std::vector<std::string_view>& pieces) {
  ToolCallParser p(format);
  ToolResult r;
  for (std::string_view s : pieces) r.add(p.push(s));
  r.add(p.finish());
  return r;
}

ReasoningDelta run_reasoning(bool starts_in, const std::vector<std::string_view>& pieces) {
  ReasoningParser p(starts_in);
  ReasoningDelta all;
  const auto add = [&](const ReasoningDelta& d) {
    all.reasoning += d.reasoning;
    all.content += d.content;
  };
  for (std::string_view s : pieces) add(p.push(s));
  add(p.finish());
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> pieces;
  std::string whole;
  for (size_t start = 0;;) {
    const size_t cut = input.find('\x01', start);
    pieces.push_back(input.substr(start, cut == std::string_view::npos ? std::string_view::npos : cut - start));
    whole += pieces.back();
    if (cut == std::string_view::npos) break;
    start = cut + 1;
  }
  fuzz::expect_clean_errors([&] {
    const ToolCallFormat format = (flags & 1) ? ToolCallFormat::DeepSeekV3 : ToolCallFormat::Hermes;
    if (!(run_tools(format, pieces) == run_tools(format, {whole})))
      fuzz::finding("the tool-call parser's result depends on how the answer was split");
    const bool starts_in = flags & 2;
    const ReasoningDelta a = run_reasoning(starts_in, pieces), b = run_reasoning(starts_in, {whole});
    if (a.reasoning != b.reasoning || a.content != b.content)
      fuzz::finding("the reasoning parser's result depends on how the answer was split");
    (void)prompt_opens_reasoning(whole);
  });
  return 0;
}
