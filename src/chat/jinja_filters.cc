// jinja2's builtin filters (jinja2/filters.py) plus HF's tojson, with the same argument names
// and defaults, so keyword calls such as tojson(indent=2) or map(attribute='name') work.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_text.h"
#include "chat/jinja_utf8.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

using Filter = std::function<Value(const BuiltinContext&, Value, CallArgs&)>;

[[noreturn]] void fail_undefined(const Value& v) {
  fail("{}", v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
}

// jinja2's make_attrgetter: "a.b.0" walks attributes / items; integers index.
Value lookup_path(const Value& item, const Value& attribute) {
  if (attribute.is_int()) return get_item(item, attribute);
  Value cur = item;
  const std::string path = attribute.str();
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = numeric ? get_item(cur, Value(int64_t(std::stoll(part)))) : get_item(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// Sort / unique / min / max key: strings lowered unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(text::lower(v.as_string()));
  return v;
}

std::vector<Value> sorted(std::vector<Value> items, bool reverse, bool case_sensitive, const Value* attribute) {
  std::vector<std::pair<Value, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k)
    keyed.emplace_back(sort_key(attribute ? lookup_path(items[k], *attribute) : items[k], case_sensitive), k);
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& a, const auto& b) {
    return reverse ? b.first.compare(a.first) < 0 : a.first.compare(b.first) < 0;
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (const auto& k : keyed) out.push_back(items[k.second]);
  return out;
}

const Value* attribute_arg(const CallArgs& a, size_t index) {
  const Value* v = a.find(index, "attribute");
  return v && !v->is_none() ? v : nullptr;
}

// Python float(str).
std::optional<double> parse_float(const std::string& s) {
  const std::string t = text::strip(s, std::nullopt, true, true);
  if (t.empty()) return std::nullopt;
  std::string clean;
  for (char c : t)
    if (c != '_') clean += c;
  const std::string l = text::lower(clean);
  if (l == "inf" || l == "+inf" || l == "infinity" || l == "+infinity") return INFINITY;
  if (l == "-inf" || l == "-infinity") return -INFINITY;
  if (l == "nan" || l == "+nan" || l == "-nan") return NAN;
  char* end = nullptr;
  const double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size() || l.find_first_of("xp") != std::string::npos) return std::nullopt;
  return v;
}

// Python int(str, base).
std::optional<int64_t> parse_int(const std::string& s, int64_t base) {
  std::string t = text::strip(s, std::nullopt, true, true);
  std::string clean;
  for (char c : t)
    if (c != '_') clean += c;
  if (clean.empty()) return std::nullopt;
  bool negative = false;
  size_t p = 0;
  if (clean[0] == '-' || clean[0] == '+') {
    negative = clean[0] == '-';
    p = 1;
  }
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (clean.size() > p + 1 && clean[p] == '0' && std::strchr("xXoObB", clean[p + 1])) {
      const char b = char(std::tolower(clean[p + 1]));
      const int64_t prefix_base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
      if (base != 0 && base != prefix_base) return std::nullopt;
      base = prefix_base;
      p += 2;
    } else if (base == 0) {
      base = 10;
    }
  }
  if (p >= clean.size()) return std::nullopt;
  int64_t v = 0;
  for (; p < clean.size(); ++p) {
    const char c = char(std::tolower(clean[p]));
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
    if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v)) return std::nullopt;
  }
  return negative ? -v : v;
}

Value python_round(double v, int64_t precision) {
  if (!std::isfinite(v)) return Value(v);
  if (precision == 0) return Value(std::nearbyint(v));  // half to even, like Python's round()
  char buf[512];
  if (precision > 0 && precision < 300) {
    // printf rounds the exact binary value, as Python's round() does.
    std::snprintf(buf, sizeof buf, "%.*f", int(precision), v);
    return Value(std::strtod(buf, nullptr));
  }
  const double scale = std::pow(10.0, double(-precision));
  return Value(std::nearbyint(v / scale) * scale);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// json.dumps with ensure_ascii=True: everything past ASCII as \uXXXX (surrogate pairs above BMP).
std::string ascii_escape_json(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    if (cp < 0x7F) {
      out += char(cp);
    } else if (cp < 0x10000) {
      out += fmt::format("\\u{:04x}", cp);
    } else {
      const uint32_t v = cp - 0x10000;
      out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    }
  }
  return out;
}

Value tojson(const BuiltinContext&, Value v, CallArgs& a) {
  JsonDumpOptions o;
  const bool ensure_ascii = a.get(0, "ensure_ascii", Value(false)).truthy();
  const Value indent = a.get(1, "indent", Value::none());
  if (!indent.is_none()) {
    o.has_indent = true;
    if (indent.is_string()) o.indent = indent.as_string();
    else if (indent.is_int() || indent.is_bool()) o.indent = std::string(size_t(std::max<int64_t>(0, indent.as_int())), ' ');
    else fail("tojson: indent must be an int or a string, not {}", indent.type_name());
  }
  const Value separators = a.get(2, "separators", Value::none());
  if (!separators.is_none()) {
    std::vector<Value> parts = separators.iterate();
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) fail("tojson: separators must be a pair of strings");
    o.has_separators = true;
    o.item_separator = parts[0].as_string();
    o.key_separator = parts[1].as_string();
  }
  o.sort_keys = a.get(3, "sort_keys", Value(false)).truthy();
  std::string out = python_json_dumps(v, o);
  // ensure_ascii escapes inside strings only, and only non-ASCII appears inside strings.
  if (ensure_ascii && !is_ascii(out)) out = ascii_escape_json(out);
  return Value(std::move(out));
}

// select / reject / selectattr / rejectattr.
Value select_items(const BuiltinContext& ctx, const Value& seq, CallArgs& a, bool by_attribute, bool keep_when) {
  std::vector<Value> out;
  size_t first_test_arg = 0;
  Value attribute;
  if (by_attribute) {
    if (a.positional.empty()) fail("selectattr/rejectattr need an attribute name");
    attribute = a.positional[0];
    first_test_arg = 1;
  }
  const bool has_test = a.positional.size() > first_test_arg;
  std::string test_name = has_test ? a.positional[first_test_arg].str() : "";
  CallArgs test_args;
  if (has_test)
    test_args.positional.assign(a.positional.begin() + std::ptrdiff_t(first_test_arg) + 1, a.positional.end());
  test_args.keyword = a.keyword;
  for (const auto& item : seq.iterate()) {
    const Value subject = by_attribute ? lookup_path(item, attribute) : item;
    CallArgs args = test_args;
    const bool r = has_test ? ctx.apply_test(test_name, subject, args) : subject.truthy();
    if (r == keep_when) out.push_back(item);
  }
  return Value::generator(std::move(out));
}

std::string join_values(const std::vector<Value>& items, const std::string& sep) {
  std::string out;
  for (size_t k = 0; k < items.size(); ++k) {
    if (k) out += sep;
    out += items[k].str();
  }
  return out;
}

Value min_max(const Value& seq, CallArgs& a, bool want_max) {
  const bool case_sensitive = a.get(0, "case_sensitive", Value(false)).truthy();
  const Value* attribute = attribute_arg(a, 1);
  std::vector<Value> items = seq.iterate();
  if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
  size_t best = 0;
  Value best_key = sort_key(attribute ? lookup_path(items[0], *attribute) : items[0], case_sensitive);
  for (size_t k = 1; k < items.size(); ++k) {
    Value key = sort_key(attribute ? lookup_path(items[k], *attribute) : items[k], case_sensitive);
    const int c = key.compare(best_key);
    if (want_max ? c > 0 : c < 0) {
      best = k;
      best_key = key;
    }
  }
  return items[best];
}

const std::unordered_map<std::string, Filter>& filters() {
  static const std::unordered_map<std::string, Filter> table = [] {
    std::unordered_map<std::string, Filter> f;
    f["abs"] = [](const BuiltinContext&, Value v, CallArgs&) -> Value {
      if (v.is_float()) return Value(std::fabs(v.as_double()));
      if (v.is_int() || v.is_bool()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
      if (v.is_undefined()) fail_undefined(v);
      fail("bad operand type for abs(): '{}'", v.type_name());
    };
    f["attr"] = [](const BuiltinContext&, Value v, CallArgs& a) { return get_attribute(v, a.get(0, "name").str()); };
    f["capitalize"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(text::capitalize(v.str())); };
    f["center"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      CallArgs args;
      args.positional.push_back(a.get(0, "width", Value(int64_t(80))));
      return get_attribute(Value(v.str()), "center").as_callable().fn(args);
    };
    f["default"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const bool boolean = a.get(1, "boolean", Value(false)).truthy();
      if (v.is_undefined() || (boolean && !v.truthy())) return a.get(0, "default_value", Value(""));
      return v;
    };
    f["d"] = f["default"];
    f["dictsort"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      if (!v.is_plain_dict()) fail("dictsort: expected a mapping, got {}", v.type_name());
      const bool case_sensitive = a.get(0, "case_sensitive", Value(false)).truthy();
      const std::string by = a.get(1, "by", Value("key")).str();
      const bool reverse = a.get(2, "reverse", Value(false)).truthy();
      if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
      std::vector<Value> items;
      for (const auto& [k, val] : v.as_dict().entries) items.push_back(Value::tuple({k, val}));
      const Value index(int64_t(by == "key" ? 0 : 1));
      return Value::list(sorted(std::move(items), reverse, case_sensitive, &index));
    };
    f["escape"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(html_escape(v.str())); };
    f["e"] = f["escape"];
    f["first"] = [](const BuiltinContext&, Value v, CallArgs&) {
      std::vector<Value> items = v.iterate();
      return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
    };
    f["last"] = [](const BuiltinContext&, Value v, CallArgs&) {
      std::vector<Value> items = v.iterate();
      return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
    };
    f["float"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value fallback = a.get(0, "default", Value(0.0));
      if (v.is_number()) return Value(v.as_double());
      if (v.is_string())
        if (auto d = parse_float(v.as_string())) return Value(*d);
      return fallback;
    };
    f["int"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value fallback = a.get(0, "default", Value(int64_t(0)));
      const int64_t base = a.get(1, "base", Value(int64_t(10))).as_int();
      if (v.is_int() || v.is_bool()) return Value(v.as_int());
      if (v.is_float()) {
        if (!std::isfinite(v.as_double())) return fallback;
        return Value(int64_t(std::trunc(v.as_double())));
      }
      if (v.is_string()) {
        if (auto i = parse_int(v.as_string(), base)) return Value(*i);
        if (auto d = parse_float(v.as_string()); d && std::isfinite(*d)) return Value(int64_t(std::trunc(*d)));
      }
      return fallback;
    };
    f["format"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      if (!a.positional.empty() && !a.keyword.empty()) fail("can't handle positional and keyword arguments at the same time");
      return Value(text::percent_format(v.str(), a));
    };
    f["groupby"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value* attribute = a.find(0, "attribute");
      if (!attribute) fail("groupby needs an attribute");
      const Value fallback = a.get(1, "default", Value::none());
      const bool case_sensitive = a.get(2, "case_sensitive", Value(false)).truthy();
      std::vector<std::pair<Value, Value>> keyed;
      for (const auto& item : v.iterate()) {
        Value key = lookup_path(item, *attribute);
        if (key.is_undefined()) key = fallback;
        keyed.emplace_back(key, item);
      }
      std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        return sort_key(x.first, case_sensitive).compare(sort_key(y.first, case_sensitive)) < 0;
      });
      std::vector<Value> groups;
      for (size_t k = 0; k < keyed.size();) {
        size_t j = k;
        std::vector<Value> members;
        const Value group_key = sort_key(keyed[k].first, case_sensitive);
        while (j < keyed.size() && sort_key(keyed[j].first, case_sensitive).equals(group_key)) members.push_back(keyed[j++].second);
        groups.push_back(Value::tuple({keyed[k].first, Value::list(std::move(members))}));
        k = j;
      }
      return Value::list(std::move(groups));
    };
    f["indent"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value width = a.get(0, "width", Value(int64_t(4)));
      const bool first = a.get(1, "first", Value(false)).truthy();
      const bool blank = a.get(2, "blank", Value(false)).truthy();
      const std::string indention = width.is_string() ? width.as_string() : std::string(size_t(std::max<int64_t>(0, width.as_int())), ' ');
      std::string s = v.str() + "\n";  // jinja2's quirk so that splitlines keeps a trailing empty line
      std::vector<std::string> lines = text::splitlines(s);
      std::string rv;
      if (blank) {
        for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + indention : "") + lines[k];
      } else {
        rv = lines.empty() ? "" : lines[0];
        for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? lines[k] : indention + lines[k]);
      }
      if (first) rv = indention + rv;
      return Value(std::move(rv));
    };
    f["items"] = [](const BuiltinContext&, Value v, CallArgs&) {
      if (v.is_undefined()) return Value::generator({});
      if (!v.is_plain_dict()) fail("Can only get item pairs from a mapping.");
      std::vector<Value> items;
      for (const auto& [k, val] : v.as_dict().entries) items.push_back(Value::tuple({k, val}));
      return Value::generator(std::move(items));
    };
    f["join"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const std::string sep = a.get(0, "d", Value("")).str();
      const Value* attribute = attribute_arg(a, 1);
      std::vector<Value> items = v.iterate();
      if (attribute)
        for (auto& item : items) item = lookup_path(item, *attribute);
      return Value(join_values(items, sep));
    };
    f["length"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(v.length()); };
    f["count"] = f["length"];
    f["list"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value::list(v.iterate()); };
    f["lower"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(text::lower(v.str())); };
    f["upper"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(text::upper(v.str())); };
    f["title"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(text::title(v.str())); };
    f["map"] = [](const BuiltinContext& ctx, Value v, CallArgs& a) {
      std::vector<Value> items = v.iterate();
      if (const Value* attribute = attribute_arg(a, 99); attribute && a.positional.empty()) {
        const Value* fallback = nullptr;
        for (const auto& [k, val] : a.keyword)
          if (k == "default") fallback = &val;
        for (auto& item : items) {
          item = lookup_path(item, *attribute);
          if (item.is_undefined() && fallback) item = *fallback;
        }
        return Value::generator(std::move(items));
      }
      if (a.positional.empty()) fail("map requires a filter argument");
      const std::string name = a.positional[0].str();
      for (auto& item : items) {
        CallArgs args;
        args.positional.assign(a.positional.begin() + 1, a.positional.end());
        args.keyword = a.keyword;
        item = ctx.apply_filter(name, item, args);
      }
      return Value::generator(std::move(items));
    };
    f["max"] = [](const BuiltinContext&, Value v, CallArgs& a) { return min_max(v, a, true); };
    f["min"] = [](const BuiltinContext&, Value v, CallArgs& a) { return min_max(v, a, false); };
    f["replace"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value count = a.get(2, "count", Value::none());
      return Value(text::replace(v.str(), a.get(0, "old").str(), a.get(1, "new").str(), count.is_none() ? -1 : count.as_int()));
    };
    f["reverse"] = [](const BuiltinContext&, Value v, CallArgs&) {
      if (v.is_string()) {
        std::vector<Value> chars = v.iterate();
        std::string out;
        for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
        return Value(std::move(out));
      }
      std::vector<Value> items = v.iterate();
      std::reverse(items.begin(), items.end());
      return Value::generator(std::move(items));  // Python's reversed() iterator
    };
    f["round"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const int64_t precision = a.get(0, "precision", Value(int64_t(0))).as_int();
      const std::string method = a.get(1, "method", Value("common")).str();
      if (!v.is_number()) fail("round: expected a number, got {}", v.type_name());
      if (method == "common") {
        if (!v.is_float()) return Value(v.as_int());
        return python_round(v.as_double(), precision);
      }
      if (method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
      const double scale = std::pow(10.0, double(precision));
      const double x = v.as_double() * scale;
      return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
    };
    f["safe"] = [](const BuiltinContext&, Value v, CallArgs&) { return v; };
    f["select"] = [](const BuiltinContext& ctx, Value v, CallArgs& a) { return select_items(ctx, v, a, false, true); };
    f["reject"] = [](const BuiltinContext& ctx, Value v, CallArgs& a) { return select_items(ctx, v, a, false, false); };
    f["selectattr"] = [](const BuiltinContext& ctx, Value v, CallArgs& a) { return select_items(ctx, v, a, true, true); };
    f["rejectattr"] = [](const BuiltinContext& ctx, Value v, CallArgs& a) { return select_items(ctx, v, a, true, false); };
    f["sort"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const bool reverse = a.get(0, "reverse", Value(false)).truthy();
      const bool case_sensitive = a.get(1, "case_sensitive", Value(false)).truthy();
      return Value::list(sorted(v.iterate(), reverse, case_sensitive, attribute_arg(a, 2)));
    };
    f["string"] = [](const BuiltinContext&, Value v, CallArgs&) { return Value(v.str()); };
    f["sum"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value* attribute = attribute_arg(a, 0);
      Value total = a.get(1, "start", Value(int64_t(0)));
      for (auto item : v.iterate()) {
        if (attribute) item = lookup_path(item, *attribute);
        if (!total.is_number() || !item.is_number()) fail("unsupported operand type(s) for +: '{}' and '{}'", total.type_name(), item.type_name());
        if (total.is_float() || item.is_float()) total = Value(total.as_double() + item.as_double());
        else total = Value(total.as_int() + item.as_int());
      }
      return total;
    };
    f["tojson"] = tojson;
    f["trim"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const Value chars = a.get(0, "chars", Value::none());
      return Value(text::strip(v.str(), chars.is_none() ? std::nullopt : std::optional<std::string>(chars.str()), true, true));
    };
    f["unique"] = [](const BuiltinContext&, Value v, CallArgs& a) {
      const bool case_sensitive = a.get(0, "case_sensitive", Value(false)).truthy();
      const Value* attribute = attribute_arg(a, 1);
      std::vector<Value> out, seen;
      for (const auto& item : v.iterate()) {
        Value key = sort_key(attribute ? lookup_path(item, *attribute) : item, case_sensitive);
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return s.equals(key); })) continue;
        seen.push_back(key);
        out.push_back(item);
      }
      return Value::generator(std::move(out));
    };
    f["wordcount"] = [](const BuiltinContext&, Value v, CallArgs&) {
      // len(re.findall(r"\w+", s)): runs of letters, digits and underscore.
      const std::string s = v.str();
      int64_t words = 0;
      bool in_word = false;
      for (size_t i = 0; i < s.size();) {
        const uint32_t cp = next_code_point(s, i);
        const bool w = cp == '_' || (cp < 0x80 ? std::isalnum(int(cp)) != 0 : !is_python_space(cp) && cp > 0xBF);
        if (w && !in_word) ++words;
        in_word = w;
      }
      return Value(words);
    };
    return f;
  }();
  return table;
}

}  // namespace

bool is_known_filter(std::string_view name) { return filters().count(std::string(name)) != 0; }

Value apply_filter(const BuiltinContext& ctx, const std::string& name, Value input, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) fail("no filter named '{}'", name);
  return it->second(ctx, std::move(input), args);
}

}  // namespace dragon::chat::jinja
