// `dragon run`'s interactive chat (no prompt argument, stdin a terminal): a conversation whose
// whole history goes through the model's chat template each turn (the engine's prefix reuse
// skips what is already in the cache), the answer streamed as it is generated, the reasoning of
// thinking models dimmed (or hidden with /think), /commands, multi-line input, and Ctrl-C
// stopping the answer rather than the program.
#pragma once

#include <string>
#include <vector>

#include "chat/model_template.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"

namespace dragon::cli {

struct ChatSetup {
  Engine* engine = nullptr;
  chat::ModelTemplate tmpl;
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;
  std::vector<std::string> stops;
  int64_t max_tokens = 256;
  std::string system;
  std::string model_name;  // shown in the banner
  bool color = false;      // ANSI styles (stdout is a terminal)
};

// Runs the chat until /exit or end of input. Returns the exit code.
int run_chat_session(ChatSetup setup);

}  // namespace dragon::cli
