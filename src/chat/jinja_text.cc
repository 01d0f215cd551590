// Python string methods over UTF-8. Positions and lengths are in code points where Python's are.
#include "chat/jinja_text.h"

#include <fmt/format.h>
#include <utf8proc.h>

#include <cmath>

#include "chat/jinja_utf8.h"
#include "util/error.h"

namespace dragon::chat::jinja::text {

namespace {

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) cps.push_back(next_code_point(s, i));
  return cps;
}

std::string encode(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t k = begin; k < end; ++k) append_utf8(out, cps[k]);
  return out;
}

bool is_cased_letter(uint32_t cp) {
  const auto cat = utf8proc_category(int32_t(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

// Python's ASCII fast path is exact; elsewhere utf8proc's simple case mappings are close enough.
uint32_t to_lower(uint32_t cp) { return cp < 0x80 ? uint32_t(std::tolower(int(cp))) : uint32_t(utf8proc_tolower(int32_t(cp))); }
uint32_t to_upper(uint32_t cp) { return cp < 0x80 ? uint32_t(std::toupper(int(cp))) : uint32_t(utf8proc_toupper(int32_t(cp))); }
uint32_t to_title(uint32_t cp) { return cp < 0x80 ? uint32_t(std::toupper(int(cp))) : uint32_t(utf8proc_totitle(int32_t(cp))); }

bool is_line_break(uint32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E || cp == 0x85 ||
         cp == 0x2028 || cp == 0x2029;
}

}  // namespace

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::vector<uint32_t> cps = decode(s);
  std::vector<uint32_t> set;
  if (chars) set = decode(*chars);
  auto strippable = [&](uint32_t cp) {
    if (!chars) return is_python_space(cp);
    return std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strippable(cps[b])) ++b;
  if (right)
    while (e > b && strippable(cps[e - 1])) --e;
  return encode(cps, b, e);
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) fail("empty separator");
    if (!from_right) {
      size_t start = 0;
      while (maxsplit < 0 || int64_t(parts.size()) < maxsplit) {
        const size_t at = s.find(*sep, start);
        if (at == std::string_view::npos) break;
        parts.emplace_back(s.substr(start, at - start));
        start = at + sep->size();
      }
      parts.emplace_back(s.substr(start));
      return parts;
    }
    size_t end = s.size();
    std::vector<std::string> rev;
    while (maxsplit < 0 || int64_t(rev.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t at = s.rfind(*sep, end - sep->size());
      if (at == std::string_view::npos) break;
      rev.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
      end = at;
    }
    rev.emplace_back(s.substr(0, end));
    return {rev.rbegin(), rev.rend()};
  }
  // Whitespace splitting: runs of whitespace separate, leading/trailing ignored.
  const std::vector<uint32_t> cps = decode(s);
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < cps.size() && is_python_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && int64_t(parts.size()) >= maxsplit) {
        size_t e = cps.size();
        while (e > i && is_python_space(cps[e - 1])) --e;
        parts.push_back(encode(cps, i, e));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !is_python_space(cps[j])) ++j;
      parts.push_back(encode(cps, i, j));
      i = j;
    }
    return parts;
  }
  size_t i = cps.size();
  std::vector<std::string> rev;
  while (true) {
    while (i > 0 && is_python_space(cps[i - 1])) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && int64_t(rev.size()) >= maxsplit) {
      size_t b = 0;
      while (b < i && is_python_space(cps[b])) ++b;
      rev.push_back(encode(cps, b, i));
      break;
    }
    size_t j = i;
    while (j > 0 && !is_python_space(cps[j - 1])) --j;
    rev.push_back(encode(cps, j, i));
    i = j;
  }
  return {rev.rbegin(), rev.rend()};
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  const std::vector<uint32_t> cps = decode(s);
  std::vector<std::string> lines;
  size_t start = 0, i = 0;
  while (i < cps.size()) {
    if (!is_line_break(cps[i])) {
      ++i;
      continue;
    }
    size_t eol = i + 1;
    if (cps[i] == '\r' && eol < cps.size() && cps[eol] == '\n') ++eol;
    lines.push_back(encode(cps, start, keepends ? eol : i));
    start = i = eol;
  }
  if (start < cps.size()) lines.push_back(encode(cps, start, cps.size()));
  return lines;
}

std::string lower(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) append_utf8(out, to_lower(next_code_point(s, i)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) append_utf8(out, to_upper(next_code_point(s, i)));
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    append_utf8(out, previous_cased ? to_lower(cp) : to_title(cp));
    previous_cased = is_cased_letter(cp);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    append_utf8(out, first ? to_title(cp) : to_lower(cp));
    first = false;
  }
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement between every code point (and at both ends).
    int64_t done = 0;
    size_t i = 0;
    while (true) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      if (i >= s.size()) break;
      const size_t start = i;
      next_code_point(s, i);
      out += s.substr(start, i - start);
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out += s.substr(start, at - start);
    out += replacement;
    start = at + old.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

int64_t find(std::string_view s, std::string_view sub, std::optional<int64_t> start, std::optional<int64_t> end, bool reverse) {
  const std::vector<size_t> offsets = code_point_offsets(s);
  const int64_t n = int64_t(offsets.size()) - 1;
  auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(0, v + n) : std::min(v, n); };
  const int64_t b = start ? clamp(*start) : 0;
  const int64_t e = end ? clamp(*end) : n;
  if (b > e) return -1;
  const std::string_view window = s.substr(offsets[size_t(b)], offsets[size_t(e)] - offsets[size_t(b)]);
  const size_t at = reverse ? window.rfind(sub) : window.find(sub);
  if (at == std::string_view::npos) return -1;
  return b + code_point_count(window.substr(0, at));
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return code_point_count(s) + 1;
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string_view::npos; at = s.find(sub, at + sub.size())) ++n;
  return n;
}

bool all_chars(std::string_view s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!pred(next_code_point(s, i))) return false;
  return true;
}

namespace {

struct Spec {
  char fill = ' ';
  char align = 0;  // < > ^ =
  bool zero = false, minus = false, plus = false, space = false, alt = false;
  int width = -1, precision = -1;
  char type = 0;
};

std::string pad(std::string body, const Spec& spec, char default_align) {
  const int64_t len = code_point_count(body);
  if (spec.width < 0 || len >= spec.width) return body;
  const size_t missing = size_t(spec.width - len);
  const char align = spec.align ? spec.align : default_align;
  if (align == '<') return body + std::string(missing, spec.fill);
  if (align == '^') return std::string(missing / 2, spec.fill) + body + std::string(missing - missing / 2, spec.fill);
  if (align == '=' && !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' '))
    return body.substr(0, 1) + std::string(missing, spec.fill) + body.substr(1);
  return std::string(missing, spec.fill) + body;
}

std::string format_number(const Value& v, Spec spec) {
  char type = spec.type;
  std::string sign;
  std::string digits;
  if (type == 'd' || type == 'i' || type == 'u' || type == 'x' || type == 'X' || type == 'o' || type == 0) {
    if (!v.is_number()) fail("%{} format: a real number is required, not {}", type ? type : 'd', v.type_name());
    if (type == 0 && v.is_float()) {
      digits = python_float_repr(std::fabs(v.as_double()));
      if (v.as_double() < 0 || std::signbit(v.as_double())) sign = "-";
    } else {
      const int64_t n = v.is_float() ? int64_t(std::trunc(v.as_double())) : v.as_int();
      const uint64_t mag = n < 0 ? uint64_t(0) - uint64_t(n) : uint64_t(n);
      if (n < 0) sign = "-";
      if (type == 'x') digits = fmt::format("{:x}", mag);
      else if (type == 'X') digits = fmt::format("{:X}", mag);
      else if (type == 'o') digits = fmt::format("{:o}", mag);
      else digits = std::to_string(mag);
      if (spec.alt && (type == 'x' || type == 'X' || type == 'o')) digits = std::string("0") + type + digits;
    }
  } else {
    if (!v.is_number()) fail("%{} format: a real number is required, not {}", type, v.type_name());
    const double d = v.as_double();
    if (std::signbit(d)) sign = "-";
    const int precision = spec.precision < 0 ? 6 : spec.precision;
    const double mag = std::fabs(d);
    if (std::isinf(mag)) digits = (type >= 'a') ? "inf" : "INF";
    else if (std::isnan(mag)) digits = (type >= 'a') ? "nan" : "NAN";
    else digits = fmt::format(fmt::runtime(fmt::format("{{:.{}{}}}", precision, type == 'F' ? 'f' : type)), mag);
    if ((type == 'g' || type == 'G') && !spec.alt) {
      // Python's %g uses two-digit exponents like C; fmt already matches C here.
    }
    if (type == '%') digits += "%";
  }
  if (sign.empty()) sign = spec.plus ? "+" : (spec.space ? " " : "");
  if (spec.zero && spec.width > 0 && !spec.minus && spec.align == 0) {
    const int64_t len = int64_t(sign.size() + digits.size());
    if (len < spec.width) digits = std::string(size_t(spec.width - len), '0') + digits;
  }
  return sign + digits;
}

}  // namespace

std::string percent_format(std::string_view format, const CallArgs& args) {
  // Arguments: positional tuple, or a mapping for %(name)s (passed as keyword arguments).
  std::string out;
  size_t next_arg = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (++i >= format.size()) fail("incomplete format");
    const Value* arg = nullptr;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string_view::npos) fail("incomplete format key");
      const std::string key(format.substr(i + 1, close - i - 1));
      for (const auto& [k, v] : args.keyword)
        if (k == key) arg = &v;
      if (!arg) {
        if (args.positional.size() == 1 && args.positional[0].is_plain_dict())
          arg = args.positional[0].as_dict().find(std::string_view(key));
        if (!arg) fail("format requires a mapping with key '{}'", key);
      }
      i = close + 1;
    }
    Spec spec;
    for (; i < format.size() && std::strchr("-+ #0", format[i]); ++i) {
      switch (format[i]) {
        case '-': spec.minus = true; break;
        case '+': spec.plus = true; break;
        case ' ': spec.space = true; break;
        case '#': spec.alt = true; break;
        case '0': spec.zero = true; break;
      }
    }
    auto read_int = [&](int& target) {
      if (i < format.size() && format[i] == '*') fail("'*' width is not supported in format strings");
      if (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
        target = 0;
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) target = target * 10 + (format[i++] - '0');
      }
    };
    read_int(spec.width);
    if (i < format.size() && format[i] == '.') {
      ++i;
      spec.precision = 0;
      read_int(spec.precision);
    }
    while (i < format.size() && std::strchr("hlL", format[i])) ++i;
    if (i >= format.size()) fail("incomplete format");
    const char type = format[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!arg) {
      if (next_arg >= args.positional.size()) fail("not enough arguments for format string");
      arg = &args.positional[next_arg++];
    }
    spec.type = type;
    if (spec.minus) spec.align = '<';
    std::string body;
    switch (type) {
      case 's': body = arg->str(); if (spec.precision >= 0) body = body.substr(0, size_t(spec.precision)); break;
      case 'r': case 'a': body = arg->repr(); break;
      case 'c':
        if (arg->is_string()) body = arg->as_string();
        else append_utf8(body, uint32_t(arg->as_int()));
        break;
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        body = format_number(*arg, spec);
        break;
      default: fail("unsupported format character '{}'", type);
    }
    out += pad(std::move(body), spec, '>');
  }
  const bool mapping = !args.keyword.empty() || (args.positional.size() == 1 && args.positional[0].is_plain_dict());
  if (!mapping && next_arg < args.positional.size()) fail("not all arguments converted during string formatting");
  return out;
}

std::string brace_format(std::string_view format, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      fail("Single '}}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string_view::npos) fail("Single '{{' encountered in format string");
    std::string field(format.substr(i + 1, close - i - 1));
    i = close;
    std::string spec_text;
    char conversion = 0;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec_text = field.substr(colon + 1);
      field.resize(colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 0;
      field.resize(bang);
    }
    Value v;
    if (field.empty()) {
      if (auto_index >= args.positional.size()) fail("Replacement index {} out of range for positional args tuple", auto_index);
      v = args.positional[auto_index++];
    } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
      const size_t idx = std::stoul(field);
      if (idx >= args.positional.size()) fail("Replacement index {} out of range for positional args tuple", idx);
      v = args.positional[idx];
    } else {
      bool found = false;
      for (const auto& [k, val] : args.keyword) {
        if (k == field) {
          v = val;
          found = true;
        }
      }
      if (!found) fail("KeyError: '{}'", field);
    }
    std::string body = conversion == 'r' ? v.repr() : v.str();
    if (!spec_text.empty()) {
      Spec spec;
      size_t p = 0;
      if (spec_text.size() >= 2 && std::strchr("<>^=", spec_text[1])) {
        spec.fill = spec_text[0];
        spec.align = spec_text[1];
        p = 2;
      } else if (std::strchr("<>^=", spec_text[0])) {
        spec.align = spec_text[0];
        p = 1;
      }
      if (p < spec_text.size() && spec_text[p] == '0') spec.zero = true;
      int width = 0;
      bool has_width = false;
      while (p < spec_text.size() && std::isdigit(static_cast<unsigned char>(spec_text[p]))) {
        width = width * 10 + (spec_text[p++] - '0');
        has_width = true;
      }
      if (has_width) spec.width = width;
      if (p < spec_text.size() && spec_text[p] == '.') {
        ++p;
        spec.precision = 0;
        while (p < spec_text.size() && std::isdigit(static_cast<unsigned char>(spec_text[p]))) spec.precision = spec.precision * 10 + (spec_text[p++] - '0');
      }
      if (p < spec_text.size()) spec.type = spec_text[p];
      if (v.is_number() && conversion == 0) {
        body = format_number(v, spec);
        body = pad(std::move(body), spec, '>');
      } else {
        if (spec.precision >= 0 && code_point_count(body) > spec.precision) {
          const auto offs = code_point_offsets(body);
          body = body.substr(0, offs[size_t(spec.precision)]);
        }
        body = pad(std::move(body), spec, '<');
      }
    }
    out += body;
  }
  return out;
}

}  // namespace dragon::chat::jinja::text
