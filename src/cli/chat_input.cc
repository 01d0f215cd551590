#include "cli/chat_input.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace dragon::cli {

namespace {

enum class Read { Ok, Interrupted, Eof };

// One line without its newline. getline(3) returns -1 with EINTR when a SIGINT arrives (the
// handler is installed without SA_RESTART), which is how Ctrl-C reaches the prompt.
Read read_line(std::string& line, bool (*interrupted)()) {
  char* buf = nullptr;
  size_t cap = 0;
  errno = 0;
  const ssize_t n = getline(&buf, &cap, stdin);
  if (n < 0) {
    std::free(buf);
    const bool eintr = errno == EINTR || (interrupted && interrupted());
    clearerr(stdin);
    return eintr ? Read::Interrupted : Read::Eof;
  }
  line.assign(buf, static_cast<size_t>(n));
  std::free(buf);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return Read::Ok;
}

void show(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

InputResult read_message(const std::string& prompt, const std::string& continuation, bool (*interrupted)()) {
  show(prompt);
  std::string text, line;
  bool in_block = false, block_has_line = false;
  while (true) {
    const Read r = read_line(line, interrupted);
    if (r == Read::Interrupted) return {InputStatus::Interrupted, ""};
    if (r == Read::Eof) {
      // Ctrl-D ends the chat at an empty prompt; in the middle of a message it sends what is there.
      if (text.empty() && !in_block) return {InputStatus::EndOfInput, ""};
      return {InputStatus::Line, text};
    }
    if (line == "\"\"\"") {
      if (in_block) return {InputStatus::Line, text};
      if (text.empty()) {
        in_block = true;
        show(continuation);
        continue;
      }
    }
    if (in_block) {
      text += (block_has_line ? "\n" : "") + line;
      block_has_line = true;
      show(continuation);
      continue;
    }
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
      text += line + "\n";
      show(continuation);
      continue;
    }
    text += line;
    return {InputStatus::Line, text};
  }
}

}  // namespace dragon::cli
