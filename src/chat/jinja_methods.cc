// Attribute and item access under jinja2's ImmutableSandboxedEnvironment, and the methods of
// str, list and dict that templates call. Methods that mutate a list or dict in place are
// refused, as the sandbox HF renders with refuses them (calling them raises SecurityError there).
#include <fmt/format.h>
#include <utf8proc.h>

#include <algorithm>
#include <unordered_set>

#include "chat/jinja_builtins.h"
#include "chat/jinja_text.h"
#include "chat/jinja_utf8.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

using Method = std::function<Value(const Value& self, CallArgs& args)>;

[[noreturn]] void fail_undefined(const Value& v) {
  fail("{}", v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
}

std::optional<std::string> optional_string(const CallArgs& a, size_t index, std::string_view name) {
  const Value* v = a.find(index, name);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) fail("argument must be str or None, not {}", v->type_name());
  return v->as_string();
}

int64_t int_arg(const CallArgs& a, size_t index, std::string_view name, int64_t fallback) {
  const Value* v = a.find(index, name);
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) fail("'{}' object cannot be interpreted as an integer", v->type_name());
  return v->as_int();
}

std::optional<int64_t> optional_int(const CallArgs& a, size_t index, std::string_view name) {
  const Value* v = a.find(index, name);
  if (!v || v->is_none()) return std::nullopt;
  return int_arg(a, index, name, 0);
}

const std::string& string_arg(const CallArgs& a, size_t index, std::string_view name) {
  const Value* v = a.find(index, name);
  if (!v) fail("missing required argument '{}'", name);
  if (!v->is_string()) fail("must be str, not {}", v->type_name());
  return v->as_string();
}

Value string_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return Value::list(std::move(items));
}

bool affix_match(const Value& self, CallArgs& a, bool suffix) {
  const Value* what = a.find(0, "prefix");
  if (!what) fail("{}() takes at least 1 argument", suffix ? "endswith" : "startswith");
  std::string_view s = self.as_string();
  const auto start = optional_int(a, 1, "start");
  const auto end = optional_int(a, 2, "end");
  if (start || end) {
    const auto offs = code_point_offsets(s);
    const int64_t n = int64_t(offs.size()) - 1;
    auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(0, v + n) : std::min(v, n); };
    const int64_t b = start ? clamp(*start) : 0, e = end ? clamp(*end) : n;
    if (b > e) return false;
    s = s.substr(offs[size_t(b)], offs[size_t(e)] - offs[size_t(b)]);
  }
  auto one = [&](const Value& v) {
    if (!v.is_string()) fail("{} first arg must be str or a tuple of str, not {}", suffix ? "endswith" : "startswith", v.type_name());
    return suffix ? s.ends_with(v.as_string()) : s.starts_with(v.as_string());
  };
  if (what->is_tuple()) {
    for (const auto& v : what->as_list().items)
      if (one(v)) return true;
    return false;
  }
  return one(*what);
}

bool is_digit_cp(uint32_t cp) { return utf8proc_category(int32_t(cp)) == UTF8PROC_CATEGORY_ND || (cp >= 0xB2 && cp <= 0xB3) || cp == 0xB9; }
bool is_decimal_cp(uint32_t cp) { return utf8proc_category(int32_t(cp)) == UTF8PROC_CATEGORY_ND; }
bool is_numeric_cp(uint32_t cp) {
  const auto c = utf8proc_category(int32_t(cp));
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}
bool is_alpha_cp(uint32_t cp) {
  const auto c = utf8proc_category(int32_t(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT || c == UTF8PROC_CATEGORY_LM ||
         c == UTF8PROC_CATEGORY_LO;
}
bool is_alnum_cp(uint32_t cp) { return is_alpha_cp(cp) || is_numeric_cp(cp); }
bool is_space_cp(uint32_t cp) { return is_python_space(cp); }

// str.islower / isupper: at least one cased character, and no cased character of the other case.
bool has_case(const std::string& s, bool want_upper) {
  bool any = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    const auto c = utf8proc_category(int32_t(cp));
    if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT) {
      if (!want_upper) return false;
      any = true;
    } else if (c == UTF8PROC_CATEGORY_LL) {
      if (want_upper) return false;
      any = true;
    }
  }
  return any;
}

Value justify(const Value& self, CallArgs& a, char align) {
  const int64_t width = int_arg(a, 0, "width", 0);
  const std::string fill = a.find(1, "fillchar") ? string_arg(a, 1, "fillchar") : " ";
  const std::string& s = self.as_string();
  const int64_t len = code_point_count(s);
  if (width <= len) return self;
  const int64_t missing = width - len;
  std::string out;
  auto repeat = [&](int64_t n) {
    for (int64_t k = 0; k < n; ++k) out += fill;
  };
  if (align == '<') { out = s; repeat(missing); }
  else if (align == '>') { repeat(missing); out += s; }
  else {
    // Python's center puts the extra space on the left when width is odd and len even... exactly:
    const int64_t left = missing / 2 + (missing & width & 1);
    repeat(left);
    out += s;
    repeat(missing - left);
  }
  return Value(std::move(out));
}

const std::unordered_map<std::string, Method>& string_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"strip", [](const Value& s, CallArgs& a) { return Value(text::strip(s.as_string(), optional_string(a, 0, "chars"), true, true)); }},
      {"lstrip", [](const Value& s, CallArgs& a) { return Value(text::strip(s.as_string(), optional_string(a, 0, "chars"), true, false)); }},
      {"rstrip", [](const Value& s, CallArgs& a) { return Value(text::strip(s.as_string(), optional_string(a, 0, "chars"), false, true)); }},
      {"split", [](const Value& s, CallArgs& a) {
         return string_list(text::split(s.as_string(), optional_string(a, 0, "sep"), int_arg(a, 1, "maxsplit", -1), false));
       }},
      {"rsplit", [](const Value& s, CallArgs& a) {
         return string_list(text::split(s.as_string(), optional_string(a, 0, "sep"), int_arg(a, 1, "maxsplit", -1), true));
       }},
      {"splitlines", [](const Value& s, CallArgs& a) { return string_list(text::splitlines(s.as_string(), a.get(0, "keepends").truthy())); }},
      {"startswith", [](const Value& s, CallArgs& a) { return Value(affix_match(s, a, false)); }},
      {"endswith", [](const Value& s, CallArgs& a) { return Value(affix_match(s, a, true)); }},
      {"replace", [](const Value& s, CallArgs& a) {
         return Value(text::replace(s.as_string(), string_arg(a, 0, "old"), string_arg(a, 1, "new"), int_arg(a, 2, "count", -1)));
       }},
      {"upper", [](const Value& s, CallArgs&) { return Value(text::upper(s.as_string())); }},
      {"lower", [](const Value& s, CallArgs&) { return Value(text::lower(s.as_string())); }},
      {"casefold", [](const Value& s, CallArgs&) { return Value(text::lower(s.as_string())); }},
      {"title", [](const Value& s, CallArgs&) { return Value(text::title(s.as_string())); }},
      {"capitalize", [](const Value& s, CallArgs&) { return Value(text::capitalize(s.as_string())); }},
      {"find", [](const Value& s, CallArgs& a) {
         return Value(text::find(s.as_string(), string_arg(a, 0, "sub"), optional_int(a, 1, "start"), optional_int(a, 2, "end"), false));
       }},
      {"rfind", [](const Value& s, CallArgs& a) {
         return Value(text::find(s.as_string(), string_arg(a, 0, "sub"), optional_int(a, 1, "start"), optional_int(a, 2, "end"), true));
       }},
      {"index", [](const Value& s, CallArgs& a) {
         const int64_t r = text::find(s.as_string(), string_arg(a, 0, "sub"), optional_int(a, 1, "start"), optional_int(a, 2, "end"), false);
         if (r < 0) fail("substring not found");
         return Value(r);
       }},
      {"rindex", [](const Value& s, CallArgs& a) {
         const int64_t r = text::find(s.as_string(), string_arg(a, 0, "sub"), optional_int(a, 1, "start"), optional_int(a, 2, "end"), true);
         if (r < 0) fail("substring not found");
         return Value(r);
       }},
      {"count", [](const Value& s, CallArgs& a) { return Value(text::count(s.as_string(), string_arg(a, 0, "sub"))); }},
      {"join", [](const Value& s, CallArgs& a) {
         const Value* seq = a.find(0, "iterable");
         if (!seq) fail("join() takes exactly one argument");
         std::string out;
         bool first = true;
         for (const auto& v : seq->iterate()) {
           if (!v.is_string()) fail("sequence item: expected str instance, {} found", v.type_name());
           if (!first) out += s.as_string();
           out += v.as_string();
           first = false;
         }
         return Value(std::move(out));
       }},
      {"format", [](const Value& s, CallArgs& a) { return Value(text::brace_format(s.as_string(), a)); }},
      {"isdigit", [](const Value& s, CallArgs&) { return Value(text::all_chars(s.as_string(), is_digit_cp)); }},
      {"isdecimal", [](const Value& s, CallArgs&) { return Value(text::all_chars(s.as_string(), is_decimal_cp)); }},
      {"isnumeric", [](const Value& s, CallArgs&) { return Value(text::all_chars(s.as_string(), is_numeric_cp)); }},
      {"isalpha", [](const Value& s, CallArgs&) { return Value(text::all_chars(s.as_string(), is_alpha_cp)); }},
      {"isalnum", [](const Value& s, CallArgs&) { return Value(text::all_chars(s.as_string(), is_alnum_cp)); }},
      {"isspace", [](const Value& s, CallArgs&) { return Value(text::all_chars(s.as_string(), is_space_cp)); }},
      {"islower", [](const Value& s, CallArgs&) { return Value(has_case(s.as_string(), false)); }},
      {"isupper", [](const Value& s, CallArgs&) { return Value(has_case(s.as_string(), true)); }},
      {"center", [](const Value& s, CallArgs& a) { return justify(s, a, '^'); }},
      {"ljust", [](const Value& s, CallArgs& a) { return justify(s, a, '<'); }},
      {"rjust", [](const Value& s, CallArgs& a) { return justify(s, a, '>'); }},
      {"removeprefix", [](const Value& s, CallArgs& a) {
         const std::string& p = string_arg(a, 0, "prefix");
         return s.as_string().starts_with(p) ? Value(s.as_string().substr(p.size())) : s;
       }},
      {"removesuffix", [](const Value& s, CallArgs& a) {
         const std::string& p = string_arg(a, 0, "suffix");
         return !p.empty() && s.as_string().ends_with(p) ? Value(s.as_string().substr(0, s.as_string().size() - p.size())) : s;
       }},
      {"partition", [](const Value& s, CallArgs& a) {
         const std::string& sep = string_arg(a, 0, "sep");
         const size_t at = s.as_string().find(sep);
         if (at == std::string::npos) return Value::tuple({s, Value(""), Value("")});
         return Value::tuple({Value(s.as_string().substr(0, at)), Value(sep), Value(s.as_string().substr(at + sep.size()))});
       }},
      {"rpartition", [](const Value& s, CallArgs& a) {
         const std::string& sep = string_arg(a, 0, "sep");
         const size_t at = s.as_string().rfind(sep);
         if (at == std::string::npos) return Value::tuple({Value(""), Value(""), s});
         return Value::tuple({Value(s.as_string().substr(0, at)), Value(sep), Value(s.as_string().substr(at + sep.size()))});
       }},
      {"zfill", [](const Value& s, CallArgs& a) {
         const int64_t width = int_arg(a, 0, "width", 0);
         std::string str = s.as_string();
         const int64_t len = code_point_count(str);
         if (width <= len) return s;
         const size_t sign = !str.empty() && (str[0] == '-' || str[0] == '+') ? 1 : 0;
         str.insert(sign, std::string(size_t(width - len), '0'));
         return Value(std::move(str));
       }},
  };
  return m;
}

const std::unordered_map<std::string, Method>& list_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"pop", [](const Value& l, CallArgs& a) {
         if (l.is_tuple()) fail("'tuple' object has no attribute 'pop'");
         auto& items = l.as_list().items;
         if (items.empty()) fail("pop from empty list");
         int64_t idx = int_arg(a, 0, "index", -1);
         if (idx < 0) idx += int64_t(items.size());
         if (idx < 0 || idx >= int64_t(items.size())) fail("pop index out of range");
         Value v = items[size_t(idx)];
         items.erase(items.begin() + idx);
         return v;
       }},
      {"index", [](const Value& l, CallArgs& a) {
         const Value* x = a.find(0, "value");
         if (!x) fail("index() takes at least 1 argument");
         const auto& items = l.as_list().items;
         for (size_t k = 0; k < items.size(); ++k)
           if (items[k].equals(*x)) return Value(int64_t(k));
         fail("{} is not in list", x->repr());
       }},
      {"count", [](const Value& l, CallArgs& a) {
         const Value* x = a.find(0, "value");
         if (!x) fail("count() takes exactly one argument");
         int64_t n = 0;
         for (const auto& v : l.as_list().items) n += v.equals(*x);
         return Value(n);
       }},
      {"copy", [](const Value& l, CallArgs&) { return Value::list(l.as_list().items); }},
  };
  return m;
}

const std::unordered_map<std::string, Method>& dict_methods() {
  static const std::unordered_map<std::string, Method> m = {
      {"get", [](const Value& d, CallArgs& a) {
         const Value* key = a.find(0, "key");
         if (!key) fail("get expected at least 1 argument");
         const Value* v = d.as_dict().find(*key);
         return v ? *v : a.get(1, "default", Value::none());
       }},
      {"items", [](const Value& d, CallArgs&) {
         std::vector<Value> items;
         for (const auto& [k, v] : d.as_dict().entries) items.push_back(Value::tuple({k, v}));
         return Value::list(std::move(items));
       }},
      {"keys", [](const Value& d, CallArgs&) {
         std::vector<Value> items;
         for (const auto& e : d.as_dict().entries) items.push_back(e.first);
         return Value::list(std::move(items));
       }},
      {"values", [](const Value& d, CallArgs&) {
         std::vector<Value> items;
         for (const auto& e : d.as_dict().entries) items.push_back(e.second);
         return Value::list(std::move(items));
       }},
      {"copy", [](const Value& d, CallArgs&) {
         auto copy = std::make_shared<Dict>(d.as_dict());
         return Value(copy);
       }},
  };
  return m;
}

// The in-place mutators jinja2's ImmutableSandboxedEnvironment refuses.
bool is_unsafe_mutator(const Value& obj, const std::string& name) {
  static const std::unordered_set<std::string> list_unsafe = {"append", "extend", "insert", "remove", "reverse", "sort", "clear"};
  static const std::unordered_set<std::string> dict_unsafe = {"clear", "pop", "popitem", "setdefault", "update"};
  if (obj.is_list() && !obj.is_tuple() && !obj.is_generator()) return list_unsafe.count(name) != 0;
  if (obj.is_plain_dict()) return dict_unsafe.count(name) != 0;
  return false;
}

}  // namespace

Value bound_method(const Value& object, const std::string& name) {
  const std::unordered_map<std::string, Method>* table = nullptr;
  if (object.is_string()) table = &string_methods();
  else if (object.is_list() && !object.is_generator()) table = &list_methods();
  else if (object.is_plain_dict()) table = &dict_methods();
  if (is_unsafe_mutator(object, name))
    return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe", name, object.type_name()));
  if (!table) return Value();
  auto it = table->find(name);
  if (it == table->end()) return Value();
  if (object.is_tuple() && name != "index" && name != "count") return Value();
  auto fn = std::make_shared<Callable>();
  fn->name = name;
  const Method& method = it->second;
  fn->fn = [object, &method](CallArgs& a) { return method(object, a); };
  return Value(fn);
}

Value get_attribute(const Value& object, const std::string& name) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_dict()) {
    if (object.is_plain_dict()) {
      Value m = bound_method(object, name);
      if (!m.is_undefined() || !m.undefined_hint().empty()) return m;
    }
    if (const Value* v = object.as_dict().find(std::string_view(name))) return *v;
    return Value::undefined(fmt::format("'{}' has no attribute '{}'", object.is_plain_dict() ? "dict object" : object.type_name(), name));
  }
  Value m = bound_method(object, name);
  if (!m.is_undefined() || !m.undefined_hint().empty()) return m;
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", object.type_name(), name));
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_generator()) return Value::undefined("'generator object' is not subscriptable");
  if (object.is_list() && (key.is_int() || key.is_bool())) {
    const auto& items = object.as_list().items;
    int64_t idx = key.as_int();
    if (idx < 0) idx += int64_t(items.size());
    if (idx >= 0 && idx < int64_t(items.size())) return items[size_t(idx)];
    return Value::undefined(fmt::format("{} object has no element {}", object.type_name(), key.as_int()));
  }
  if (object.is_string() && (key.is_int() || key.is_bool())) {
    const auto offs = code_point_offsets(object.as_string());
    const int64_t n = int64_t(offs.size()) - 1;
    int64_t idx = key.as_int();
    if (idx < 0) idx += n;
    if (idx >= 0 && idx < n) return Value(object.as_string().substr(offs[size_t(idx)], offs[size_t(idx) + 1] - offs[size_t(idx)]));
    return Value::undefined(fmt::format("str object has no element {}", key.as_int()));
  }
  if (object.is_plain_dict()) {
    if (const Value* v = object.as_dict().find(key)) return *v;
  }
  if (key.is_string()) {
    if (object.is_dict() && !object.is_plain_dict()) {
      if (const Value* v = object.as_dict().find(key)) return *v;
    }
    Value m = bound_method(object, key.as_string());
    if (!m.is_undefined() || !m.undefined_hint().empty()) return m;
  }
  return Value::undefined(fmt::format("'{}' has no attribute {}", object.is_plain_dict() ? "dict object" : object.type_name(), key.repr()));
}

Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step) {
  if (object.is_undefined()) fail_undefined(object);
  auto opt = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail("slice indices must be integers or None, not {}", v.type_name());
    return v.as_int();
  };
  const std::optional<int64_t> a = opt(start), b = opt(stop), c = opt(step);
  const int64_t st = c.value_or(1);
  if (st == 0) fail("slice step cannot be zero");
  std::vector<size_t> offs;
  int64_t n = 0;
  if (object.is_string()) {
    offs = code_point_offsets(object.as_string());
    n = int64_t(offs.size()) - 1;
  } else if (object.is_list() && !object.is_generator()) {
    n = int64_t(object.as_list().items.size());
  } else {
    fail("'{}' object is not subscriptable", object.type_name());
  }
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t lo = adjust(a, st < 0 ? n - 1 : 0);
  const int64_t hi = adjust(b, st < 0 ? -1 : n);
  std::vector<int64_t> picks;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) picks.push_back(i);
  if (object.is_string()) {
    const std::string& s = object.as_string();
    std::string out;
    if (st == 1) {
      if (!picks.empty()) out = s.substr(offs[size_t(picks.front())], offs[size_t(picks.back()) + 1] - offs[size_t(picks.front())]);
    } else {
      for (int64_t i : picks) out += s.substr(offs[size_t(i)], offs[size_t(i) + 1] - offs[size_t(i)]);
    }
    return Value(std::move(out));
  }
  std::vector<Value> out;
  out.reserve(picks.size());
  for (int64_t i : picks) out.push_back(object.as_list().items[size_t(i)]);
  return object.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace dragon::chat::jinja
