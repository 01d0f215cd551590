// Jinja chat templates: parsing any source, and rendering what parses against a chat context
// (messages with tool calls, tools, bos/eos) inside tight render limits. Errors must be
// dragon::Error (line/column) or the template's own raise_exception().
#include <cstddef>
#include <cstdint>

#include "chat/chat_template.h"
#include "fuzz/fuzz_support.h"

using namespace dragon;

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json ctx = [] {
    auto messages = nlohmann::ordered_json::parse(R"([
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "What is the weather in Paris?"},
      {"role": "assistant", "content": "", "reasoning_content": "Use the tool.",
       "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "{\"temp\": 21}"},
      {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}])");
    auto tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
    return chat::make_chat_context(messages, tools, true, "<s>", "</s>", {{"enable_thinking", false}});
  }();
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean_errors([&] {
    try {
      chat::ChatTemplate t = chat::ChatTemplate::parse(source);
      // Small limits: a template that loops or grows its output is stopped quickly.
      t.limits().max_output_bytes = 1 << 16;
      t.limits().max_total_bytes = 1 << 20;
      t.limits().max_loop_iterations = 100'000;
      (void)t.render(context());
    } catch (const chat::jinja::TemplateRaised&) {
    }
  });
  return 0;
}
