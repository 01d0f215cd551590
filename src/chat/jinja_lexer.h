// Splits a template into tokens the way jinja2's lexer does with HF's settings
// (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False): text, {{ }}, {% %},
// {# #} (dropped), {% raw %}, whitespace control with - and +, and the expression tokens inside
// tags. Syntax errors throw dragon::Error naming the line and column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dragon::chat::jinja {

struct Token {
  enum class Type : uint8_t {
    Text,        // template data between tags
    VarBegin,    // {{
    VarEnd,      // }}
    BlockBegin,  // {%
    BlockEnd,    // %}
    Name,
    String,      // text holds the decoded value
    Int,
    Float,
    Operator,    // text holds the operator: + - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | ,
    End,
  };
  Type type;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // byte offset in the normalized source, for line/column in errors
};

// The source as jinja2 sees it: \r\n and \r become \n, one trailing newline is dropped.
std::string normalize_template_source(std::string_view source);

// Tokenizes a normalized source.
std::vector<Token> tokenize_template(const std::string& source);

// "line L, column C" of a byte offset (column counts code points, from 1).
std::string describe_position(const std::string& source, size_t offset);

}  // namespace dragon::chat::jinja
