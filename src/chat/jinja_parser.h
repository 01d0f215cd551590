// Parses tokens into the syntax tree, with jinja2's grammar and operator precedence:
//   condexpr: or ("if" or ("else" condexpr)?)*
//   or / and / not / compare (== != < <= > >= in, not in; chained) / + - / ~ / * / // % / **
//   unary - + / primary with postfix (.attr, [item], [a:b:c], call) and filters / tests.
// Like jinja2, it rejects unknown filters and tests at compile time unless they sit inside an
// {% if %} or an inline if-expression (there jinja2 defers the error to run time).
#pragma once

#include <string>

#include "chat/jinja_ast.h"

namespace dragon::chat::jinja {

// `source` must be normalized (normalize_template_source). Throws dragon::Error with the line
// and column of the offending token.
Body parse_template(const std::string& source);

}  // namespace dragon::chat::jinja
