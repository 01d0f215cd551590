// Renders a parsed template: statements, expressions, scopes, macros and loops with jinja2's
// semantics, inside hard limits so that no template can hang or exhaust memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace dragon::chat::jinja {

struct RenderLimits {
  int max_call_depth = 100;                     // nested macro calls / recursive loops
  size_t max_output_bytes = 16u << 20;          // any one rendered string (output, macro result)
  uint64_t max_loop_iterations = 10'000'000;    // all loop iterations of one render together
  uint64_t max_total_bytes = 256ull << 20;      // all text produced, including nested captures
};

// Raised by raise_exception() in a template: the message is the template's own.
class TemplateRaised : public std::runtime_error {
 public:
  explicit TemplateRaised(const std::string& m) : std::runtime_error(m) {}
};

// Renders `body` (parsed from `source`, used for error positions) with `variables` as the
// context. Throws dragon::Error naming line and column on any failure.
std::string render_template(const std::string& source, const Body& body, const std::map<std::string, Value>& variables,
                            const RenderLimits& limits = {});

}  // namespace dragon::chat::jinja
