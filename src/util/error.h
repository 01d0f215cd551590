// Errors with context. Every failure that a user can cause (a bad file, a bad flag, a bad
// request) is a dragon::Error whose message names the thing at fault: the file, the tensor or
// key, the offset. It is thrown where the problem is found and reported once, at the edge
// (CLI exit code 1, HTTP 4xx/5xx); nothing in between prints.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace dragon {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// fail("tensor {}: offset {} past end of file", name, off) — throws dragon::Error.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Re-throws any dragon::Error raised inside `body` with `context` prepended, so a low-level
// message ("offset 12 past end") gains the file it happened in ("model.gguf: offset 12 ...").
template <typename Body>
auto with_context(const std::string& context, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace dragon
