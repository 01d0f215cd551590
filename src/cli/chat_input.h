// Reading the user's turns in `dragon run`'s interactive chat: a prompt, then one line — or
// several: a line ending in a backslash continues on the next, and a line that is just """
// opens a block that runs to the next """ line. Ctrl-C while typing drops the line (the caller
// sees Interrupted), Ctrl-D at an empty prompt ends the chat.
#pragma once

#include <optional>
#include <string>

namespace dragon::cli {

enum class InputStatus { Line, Interrupted, EndOfInput };

struct InputResult {
  InputStatus status;
  std::string text;  // the message, without the continuation markers
};

// Reads one message from stdin, printing `prompt` (and `continuation` before continued lines)
// to stdout. `interrupted()` says whether a SIGINT arrived (the read returns early on one).
InputResult read_message(const std::string& prompt, const std::string& continuation, bool (*interrupted)());

}  // namespace dragon::cli
