// The lexer follows jinja2/lexer.py rule by rule (see the comments at each rule); the subtle
// parts are the whitespace rules, which decide byte-exact output:
//  - "{%-" / "{{-" / "{#-" strip all whitespace before the tag, "-%}" / "-}}" / "-#}" all after;
//  - trim_blocks drops one newline right after "%}" or "#}" (not after "+%}");
//  - lstrip_blocks drops spaces and tabs before "{%" / "{#" when only whitespace precedes the
//    tag on its line (not for "{{", not for "{%+").
#include "chat/jinja_lexer.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "chat/jinja_utf8.h"
#include "chat/jinja_value.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

// Python's str.rstrip(): drop trailing Unicode whitespace.
std::string_view rstrip_python(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!is_python_space(next_code_point(s, i))) break;
    end = start;
  }
  return s.substr(0, end);
}

// Length of the run of Python whitespace at s[pos].
size_t whitespace_run(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size()) {
    size_t next = i;
    if (!is_python_space(next_code_point(s, next))) break;
    i = next;
  }
  return i - pos;
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// jinja2 decodes string literals with Python's "unicode-escape" codec.
std::string decode_string_literal(std::string_view body, const std::string& source, size_t offset) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    const char e = body[++i];
    auto hex = [&](size_t digits) -> uint32_t {
      uint32_t v = 0;
      for (size_t k = 1; k <= digits; ++k) {
        if (i + k >= body.size()) fail("{}: truncated \\{} escape in string literal", describe_position(source, offset), e);
        const char h = body[i + k];
        int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (d < 0) fail("{}: bad \\{} escape in string literal", describe_position(source, offset), e);
        v = v * 16 + uint32_t(d);
      }
      i += digits;
      return v;
    };
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': append_utf8(out, hex(2)); break;
      case 'u': append_utf8(out, hex(4)); break;
      case 'U': {
        const uint32_t cp = hex(8);
        if (cp > 0x10FFFF) fail("{}: \\U escape out of range", describe_position(source, offset));
        append_utf8(out, cp);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = uint32_t(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + uint32_t(body[++i] - '0');
          append_utf8(out, v);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(const std::string& source) : src_(source) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    tokens_.push_back(Token{Token::Type::End, "", 0, 0, src_.size()});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(size_t offset, const std::string& what) {
    fail("{}: {}", describe_position(src_, offset), what);
  }

  void emit(Token::Type type, std::string text, size_t offset) {
    tokens_.push_back(Token{type, std::move(text), 0, 0, offset});
  }

  // Root state: text up to the next "{{", "{%" or "{#" (jinja2's first root rule).
  void lex_root() {
    size_t tag = src_.find('{', pos_);
    while (tag != std::string::npos && tag + 1 < src_.size() && !std::strchr("{%#", src_[tag + 1]))
      tag = src_.find('{', tag + 1);
    if (tag == std::string::npos || tag + 1 >= src_.size()) {
      emit(Token::Type::Text, src_.substr(pos_), pos_);
      pos_ = src_.size();
      return;
    }
    const char kind = src_[tag + 1];
    const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
    std::string_view text(src_.data() + pos_, tag - pos_);
    if (sign == '-') {
      text = rstrip_python(text);
    } else if (sign != '+' && kind != '{') {
      // lstrip_blocks: the text between the last newline and the tag, if all whitespace.
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size() && whitespace_run(text, l_pos) == text.size() - l_pos)
        text = text.substr(0, l_pos);
    }
    if (!text.empty()) emit(Token::Type::Text, std::string(text), pos_);
    line_starting_ = false;
    pos_ = tag + 2 + (sign ? 1 : 0);
    if (kind == '#') {
      lex_comment(tag);
    } else if (kind == '%' && try_lex_raw(tag, sign)) {
      // handled
    } else {
      lex_tag(kind == '{', tag);
    }
  }

  // After "%}" / "#}": "-" strips all following whitespace, "+" keeps it, else trim_blocks
  // drops one newline.
  void after_tag_end(char sign) {
    const size_t start = pos_;
    if (sign == '-') pos_ += whitespace_run(src_, pos_);
    else if (sign != '+' && pos_ < src_.size() && src_[pos_] == '\n') ++pos_;
    if (pos_ > start) line_starting_ = src_[pos_ - 1] == '\n';
  }

  void lex_comment(size_t tag) {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) error(tag, "missing end of comment tag");
    const char sign = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    pos_ = end + 2;
    line_starting_ = false;
    after_tag_end(sign);
  }

  // "{% raw %}...{% endraw %}": the body is text, untouched except for whitespace control at
  // its end tag.
  bool try_lex_raw(size_t tag, char open_sign) {
    size_t p = pos_ + whitespace_run(src_, pos_);
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p += 3;
    p += whitespace_run(src_, p);
    if (src_.compare(p, 3, "-%}") == 0) {
      p += 3;
      p += whitespace_run(src_, p);
    } else if (src_.compare(p, 2, "%}") == 0) {
      p += 2;
    } else {
      return false;
    }
    // Find "{%[-+]? endraw [-+]?%}".
    size_t search = p;
    while (true) {
      const size_t open = src_.find("{%", search);
      if (open == std::string::npos) error(tag, "missing end of raw directive");
      size_t q = open + 2;
      const char sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : 0;
      if (sign) ++q;
      q += whitespace_run(src_, q);
      if (src_.compare(q, 6, "endraw") != 0) { search = open + 2; continue; }
      q += 6;
      q += whitespace_run(src_, q);
      char end_sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) end_sign = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) { search = open + 2; continue; }
      std::string_view body(src_.data() + p, open - p);
      if (sign == '-') {
        body = rstrip_python(body);
      } else if (sign != '+') {
        const size_t nl = body.rfind('\n');
        const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if (l_pos > 0 && l_pos < body.size() && whitespace_run(body, l_pos) == body.size() - l_pos)
          body = body.substr(0, l_pos);
      }
      if (!body.empty()) emit(Token::Type::Text, std::string(body), p);
      pos_ = q + 2;
      line_starting_ = false;
      after_tag_end(end_sign);
      (void)open_sign;
      return true;
    }
  }

  // Inside {{ }} or {% %}: expression tokens until the matching end (only when brackets balance).
  void lex_tag(bool is_var, size_t tag) {
    emit(is_var ? Token::Type::VarBegin : Token::Type::BlockBegin, "", tag);
    std::vector<char> brackets;
    while (true) {
      if (pos_ >= src_.size()) error(tag, is_var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      if (brackets.empty() && try_tag_end(is_var)) return;
      const size_t ws = whitespace_run(src_, pos_);
      if (ws) {
        pos_ += ws;
        continue;
      }
      const size_t start = pos_;
      const char c = src_[pos_];
      if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        emit(Token::Type::Name, src_.substr(start, pos_ - start), start);
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        const std::string op = lex_operator();
        if (op.empty()) error(start, fmt::format("unexpected char '{}'", c));
        if (op == "(" || op == "[" || op == "{") {
          brackets.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
        } else if (op == ")" || op == "]" || op == "}") {
          if (brackets.empty()) error(start, fmt::format("unexpected '{}'", op));
          if (brackets.back() != op[0]) error(start, fmt::format("unexpected '{}', expected '{}'", op, brackets.back()));
          brackets.pop_back();
        }
        emit(Token::Type::Operator, op, start);
      }
    }
  }

  bool try_tag_end(bool is_var) {
    const size_t start = pos_;
    if (is_var) {
      if (src_.compare(pos_, 3, "-}}") == 0) {
        pos_ += 3;
        pos_ += whitespace_run(src_, pos_);
      } else if (src_.compare(pos_, 2, "}}") == 0) {
        pos_ += 2;
      } else {
        return false;
      }
      emit(Token::Type::VarEnd, "", start);
      line_starting_ = src_[pos_ - 1] == '\n';
      return true;
    }
    char sign = 0;
    if ((src_[pos_] == '-' || src_[pos_] == '+') && src_.compare(pos_ + 1, 2, "%}") == 0) sign = src_[pos_];
    else if (src_.compare(pos_, 2, "%}") != 0) return false;
    pos_ += sign ? 3 : 2;
    emit(Token::Type::BlockEnd, "", start);
    line_starting_ = false;
    after_tag_end(sign);
    return true;
  }

  // jinja2's float_re / integer_re (decimal with "_" separators, 0b / 0o / 0x integers).
  void lex_number() {
    const size_t start = pos_;
    auto digits = [&](size_t p) {
      size_t q = p;
      while (q < src_.size() && (is_digit(src_[q]) || (src_[q] == '_' && q > p && q + 1 < src_.size() && is_digit(src_[q + 1])))) ++q;
      return q;
    };
    if (src_[pos_] == '0' && pos_ + 1 < src_.size() && std::strchr("bBoOxX", src_[pos_ + 1])) {
      const char base_char = char(std::tolower(src_[pos_ + 1]));
      const int base = base_char == 'b' ? 2 : base_char == 'o' ? 8 : 16;
      size_t q = pos_ + 2;
      int64_t v = 0;
      bool any = false;
      while (q < src_.size()) {
        char ch = char(std::tolower(src_[q]));
        if (ch == '_') { ++q; continue; }
        int d = is_digit(ch) ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : 99;
        if (d >= base) break;
        v = v * base + d;
        any = true;
        ++q;
      }
      if (any) {
        pos_ = q;
        Token t{Token::Type::Int, src_.substr(start, q - start), v, 0, start};
        tokens_.push_back(t);
        return;
      }
    }
    size_t q = digits(pos_);
    bool is_float = false;
    if (q + 1 < src_.size() && src_[q] == '.' && is_digit(src_[q + 1]) && !(start > 0 && src_[start - 1] == '.')) {
      q = digits(q + 1);
      is_float = true;
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E') && !(start > 0 && src_[start - 1] == '.')) {
      size_t e = q + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && is_digit(src_[e])) {
        q = digits(e);
        is_float = true;
      }
    }
    std::string text = src_.substr(start, q - start);
    std::string clean;
    for (char ch : text)
      if (ch != '_') clean += ch;
    pos_ = q;
    Token t{is_float ? Token::Type::Float : Token::Type::Int, text, 0, 0, start};
    if (is_float) {
      t.float_value = std::strtod(clean.c_str(), nullptr);
    } else {
      errno = 0;
      const unsigned long long v = std::strtoull(clean.c_str(), nullptr, 10);
      if (errno == ERANGE || v > uint64_t(INT64_MAX)) error(start, "integer literal too large");
      t.int_value = int64_t(v);
    }
    tokens_.push_back(std::move(t));
  }

  void lex_string() {
    const size_t start = pos_;
    const char quote = src_[pos_++];
    while (pos_ < src_.size() && src_[pos_] != quote) {
      if (src_[pos_] == '\\' && pos_ + 1 < src_.size()) ++pos_;
      ++pos_;
    }
    if (pos_ >= src_.size()) error(start, "unterminated string literal");
    const std::string_view body(src_.data() + start + 1, pos_ - start - 1);
    ++pos_;
    emit(Token::Type::String, decode_string_literal(body, src_, start), start);
  }

  std::string lex_operator() {
    static const std::array<const char*, 25> ops = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                                     "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ","};
    for (const char* op : ops) {
      const size_t n = std::strlen(op);
      if (src_.compare(pos_, n, op) == 0) {
        pos_ += n;
        return op;
      }
    }
    if (src_[pos_] == ';') {
      ++pos_;
      return ";";
    }
    return "";
  }

  const std::string& src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::string normalize_template_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<Token> tokenize_template(const std::string& source) { return Lexer(source).run(); }

std::string describe_position(const std::string& source, size_t offset) {
  offset = std::min(offset, source.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const int64_t column = code_point_count(std::string_view(source).substr(line_start, offset - line_start)) + 1;
  return fmt::format("line {}, column {}", line, column);
}

}  // namespace dragon::chat::jinja
