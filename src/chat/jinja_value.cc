// Value semantics as Python has them: truthiness, str/repr, ==, <, len, iteration, and the
// conversion from JSON (the context a chat request supplies).
#include "chat/jinja_value.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "chat/jinja_utf8.h"
#include "util/error.h"

namespace dragon::chat::jinja {

Value::Value(std::shared_ptr<List> l) : kind_(Kind::List), list_(std::move(l)) {}
Value::Value(std::shared_ptr<Dict> d) : kind_(Kind::Dict), dict_(std::move(d)) {}
Value::Value(std::shared_ptr<Callable> c) : kind_(Kind::Callable), fn_(std::move(c)) {}

Value Value::undefined(std::string hint) {
  Value v;
  v.s_ = std::move(hint);
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::list(std::vector<Value> items) {
  auto l = std::make_shared<List>();
  l->items = std::move(items);
  return Value(std::move(l));
}

Value Value::tuple(std::vector<Value> items) {
  auto l = std::make_shared<List>();
  l->items = std::move(items);
  l->is_tuple = true;
  return Value(std::move(l));
}

Value Value::generator(std::vector<Value> items) {
  auto l = std::make_shared<List>();
  l->items = std::move(items);
  l->is_generator = true;
  return Value(std::move(l));
}

Value Value::dict() { return Value(std::make_shared<Dict>()); }

namespace {

template <typename Json>
Value value_from_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return Value::none();
    case Json::value_t::boolean: return Value(j.template get<bool>());
    case Json::value_t::number_integer: return Value(j.template get<int64_t>());
    case Json::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) return Value(double(u));
      return Value(int64_t(u));
    }
    case Json::value_t::number_float: return Value(j.template get<double>());
    case Json::value_t::string: return Value(j.template get<std::string>());
    case Json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(value_from_json(e));
      return Value::list(std::move(items));
    }
    case Json::value_t::object: {
      auto d = std::make_shared<Dict>();
      d->entries.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) d->entries.emplace_back(Value(it.key()), value_from_json(it.value()));
      return Value(std::move(d));
    }
    default: return Value::none();  // binary / discarded: not produced by JSON text
  }
}

// Python's float(int) comparison is exact; doubles are enough for the ranges templates use.
bool numbers_equal(const Value& a, const Value& b) {
  if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
  return a.as_int() == b.as_int();
}

bool python_printable(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  if (cp == ' ') return true;
  switch (utf8proc_category(int32_t(cp))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

}  // namespace

Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }

bool Value::is_tuple() const { return kind_ == Kind::List && list_->is_tuple; }
bool Value::is_generator() const { return kind_ == Kind::List && list_->is_generator; }
bool Value::is_plain_dict() const { return kind_ == Kind::Dict && dict_->flavor == Dict::Flavor::Plain; }

double Value::as_double() const {
  switch (kind_) {
    case Kind::Float: return f_;
    case Kind::Int: return double(i_);
    case Kind::Bool: return b_ ? 1.0 : 0.0;
    default: return 0.0;
  }
}

const void* Value::identity() const {
  switch (kind_) {
    case Kind::List: return list_.get();
    case Kind::Dict: return dict_.get();
    case Kind::Callable: return fn_.get();
    default: return nullptr;
  }
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: return b_;
    case Kind::Int: return i_ != 0;
    case Kind::Float: return f_ != 0.0;
    case Kind::String: return !s_.empty();
    case Kind::List: return list_->is_generator || !list_->items.empty();
    case Kind::Dict: return dict_->flavor != Dict::Flavor::Plain || !dict_->entries.empty();
    case Kind::Callable: return true;
  }
  return false;
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::Undefined: return "";
    case Kind::String: return s_;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "None";
    case Kind::Bool: return b_ ? "True" : "False";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: return python_float_repr(f_);
    case Kind::String: return python_string_repr(s_);
    case Kind::List: {
      if (list_->is_generator) return "<generator object>";
      const auto& items = list_->items;
      std::string out = list_->is_tuple ? "(" : "[";
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += ", ";
        out += items[k].repr();
      }
      if (list_->is_tuple && items.size() == 1) out += ",";
      out += list_->is_tuple ? ")" : "]";
      return out;
    }
    case Kind::Dict: {
      std::string out = "{";
      for (size_t k = 0; k < dict_->entries.size(); ++k) {
        if (k) out += ", ";
        out += dict_->entries[k].first.repr() + ": " + dict_->entries[k].second.repr();
      }
      out += "}";
      if (dict_->flavor == Dict::Flavor::Namespace) return "<Namespace " + out + ">";
      if (dict_->flavor == Dict::Flavor::Loop) return "<LoopContext>";
      return out;
    }
    case Kind::Callable: return "<function " + fn_->name + ">";
  }
  return "";
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return list_->is_generator ? "generator" : list_->is_tuple ? "tuple" : "list";
    case Kind::Dict:
      return dict_->flavor == Dict::Flavor::Plain ? "dict"
             : dict_->flavor == Dict::Flavor::Namespace ? "Namespace" : "LoopContext";
    case Kind::Callable: return "function";
  }
  return "object";
}

bool Value::equals(const Value& other) const {
  if (is_number() && other.is_number()) return numbers_equal(*this, other);
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Undefined: case Kind::None: return true;
    case Kind::String: return s_ == other.s_;
    case Kind::List: {
      if (list_ == other.list_) return true;
      if (list_->is_generator || other.list_->is_generator) return false;
      if (list_->is_tuple != other.list_->is_tuple) return false;
      const auto &a = list_->items, &b = other.list_->items;
      if (a.size() != b.size()) return false;
      for (size_t k = 0; k < a.size(); ++k)
        if (!a[k].equals(b[k])) return false;
      return true;
    }
    case Kind::Dict: {
      if (dict_ == other.dict_) return true;
      if (dict_->flavor != Dict::Flavor::Plain || other.dict_->flavor != Dict::Flavor::Plain) return false;
      if (dict_->entries.size() != other.dict_->entries.size()) return false;
      for (const auto& [k, v] : dict_->entries) {
        const Value* o = other.dict_->find(k);
        if (!o || !v.equals(*o)) return false;
      }
      return true;
    }
    case Kind::Callable: return fn_ == other.fn_;
    default: return false;
  }
}

int Value::compare(const Value& other) const {
  if (is_number() && other.is_number()) {
    if (is_float() || other.is_float()) {
      const double a = as_double(), b = other.as_double();
      return a < b ? -1 : (a > b ? 1 : 0);
    }
    const int64_t a = as_int(), b = other.as_int();
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  if (is_string() && other.is_string()) {
    const int c = s_.compare(other.s_);  // UTF-8 byte order is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (is_list() && other.is_list() && list_->is_tuple == other.list_->is_tuple && !list_->is_generator &&
      !other.list_->is_generator) {
    const auto &a = list_->items, &b = other.list_->items;
    for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
      if (a[k].equals(b[k])) continue;
      return a[k].compare(b[k]);
    }
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  }
  if (is_undefined() || other.is_undefined()) {
    const Value& u = is_undefined() ? *this : other;
    fail("{}", u.undefined_hint().empty() ? "value is undefined" : u.undefined_hint());
  }
  fail("'<' not supported between instances of '{}' and '{}'", type_name(), other.type_name());
}

int64_t Value::length() const {
  switch (kind_) {
    case Kind::Undefined: return 0;
    case Kind::String: return code_point_count(s_);
    case Kind::List:
      if (list_->is_generator) break;
      return int64_t(list_->items.size());
    case Kind::Dict:
      if (dict_->flavor == Dict::Flavor::Plain) return int64_t(dict_->entries.size());
      break;
    default: break;
  }
  fail("object of type '{}' has no len()", type_name());
}

std::vector<Value> Value::iterate() const {
  switch (kind_) {
    case Kind::Undefined: return {};
    case Kind::List:
      if (list_->is_generator) {
        if (list_->consumed) return {};
        list_->consumed = true;
      }
      return list_->items;
    case Kind::Dict: {
      if (dict_->flavor != Dict::Flavor::Plain) break;
      std::vector<Value> keys;
      keys.reserve(dict_->entries.size());
      for (const auto& e : dict_->entries) keys.push_back(e.first);
      return keys;
    }
    case Kind::String: {
      std::vector<Value> chars;
      for (size_t i = 0; i < s_.size();) {
        const size_t start = i;
        next_code_point(s_, i);
        chars.emplace_back(s_.substr(start, i - start));
      }
      return chars;
    }
    default: break;
  }
  fail("'{}' object is not iterable", type_name());
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& e : entries)
    if (e.first.equals(key)) return &e.second;
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& e : entries)
    if (e.first.is_string() && e.first.as_string() == key) return &e.second;
  return nullptr;
}

void Dict::set(const Value& key, Value value) {
  for (auto& e : entries) {
    if (e.first.equals(key)) {
      e.second = std::move(value);
      return;
    }
  }
  entries.emplace_back(key, std::move(value));
}

bool Dict::erase(const Value& key) {
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->first.equals(key)) {
      entries.erase(it);
      return true;
    }
  }
  return false;
}

const Value* CallArgs::find(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

Value CallArgs::get(size_t index, std::string_view name, Value fallback) const {
  const Value* v = find(index, name);
  return v ? *v : std::move(fallback);
}

bool is_python_space(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form, then laid out the way Python's repr does.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    out += "0." + std::string(size_t(-exponent - 1), '0') + digits;
  } else {
    const size_t int_digits = size_t(exponent) + 1;
    if (digits.size() <= int_digits) {
      out += digits + std::string(int_digits - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, int_digits) + "." + digits.substr(int_digits);
    }
  }
  return out;
}

std::string python_string_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = next_code_point(s, i);
    if (cp == uint32_t(quote) || cp == '\\') {
      out += '\\';
      out += char(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (!python_printable(cp)) {
      if (cp < 0x100) out += fmt::format("\\x{:02x}", cp);
      else if (cp < 0x10000) out += fmt::format("\\u{:04x}", cp);
      else out += fmt::format("\\U{:08x}", cp);
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out += quote;
  return out;
}

}  // namespace dragon::chat::jinja
