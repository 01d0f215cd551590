// jinja2's builtin tests (jinja2/tests.py): `x is defined`, `x is string`, `n is divisibleby 3`...
#include <fmt/format.h>

#include <cmath>
#include <unordered_map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_text.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

using Test = std::function<bool(const BuiltinContext&, const Value&, CallArgs&)>;

const Value& arg(const CallArgs& a, size_t index, std::string_view name) {
  const Value* v = a.find(index, name);
  if (!v) fail("test is missing its argument '{}'", name);
  return *v;
}

bool compare_op(const Value& a, const Value& b, const char* op) {
  const std::string_view o(op);
  if (o == "==") return a.equals(b);
  if (o == "!=") return !a.equals(b);
  const int c = a.compare(b);
  if (o == "<") return c < 0;
  if (o == "<=") return c <= 0;
  if (o == ">") return c > 0;
  return c >= 0;
}

const std::unordered_map<std::string, Test>& tests() {
  static const std::unordered_map<std::string, Test> table = [] {
    std::unordered_map<std::string, Test> t;
    t["defined"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return !v.is_undefined(); };
    t["undefined"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_undefined(); };
    t["none"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_none(); };
    t["boolean"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_bool(); };
    t["true"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); };
    t["false"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); };
    t["integer"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_int(); };
    t["float"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_float(); };
    t["number"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_number(); };
    t["string"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_string(); };
    t["mapping"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_plain_dict(); };
    t["iterable"] = [](const BuiltinContext&, const Value& v, CallArgs&) {
      return v.is_undefined() || v.is_string() || v.is_list() || v.is_plain_dict();
    };
    t["sequence"] = [](const BuiltinContext&, const Value& v, CallArgs&) {
      return v.is_undefined() || v.is_string() || (v.is_list() && !v.is_generator()) || v.is_plain_dict();
    };
    // Undefined counts: jinja2's Undefined defines __call__ (which raises).
    t["callable"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_callable() || v.is_undefined(); };
    t["odd"] = [](const BuiltinContext&, const Value& v, CallArgs&) {
      if (!v.is_int() && !v.is_bool()) fail("odd: expected an integer, got {}", v.type_name());
      return v.as_int() % 2 != 0;
    };
    t["even"] = [](const BuiltinContext&, const Value& v, CallArgs&) {
      if (!v.is_int() && !v.is_bool()) fail("even: expected an integer, got {}", v.type_name());
      return v.as_int() % 2 == 0;
    };
    t["divisibleby"] = [](const BuiltinContext&, const Value& v, CallArgs& a) {
      const Value& n = arg(a, 0, "num");
      if (!v.is_number() || !n.is_number()) fail("divisibleby: expected numbers");
      if (n.as_double() == 0) fail("integer division or modulo by zero");
      if (v.is_float() || n.is_float()) return std::fmod(v.as_double(), n.as_double()) == 0;
      return v.as_int() % n.as_int() == 0;
    };
    t["eq"] = [](const BuiltinContext&, const Value& v, CallArgs& a) { return compare_op(v, arg(a, 0, "other"), "=="); };
    t["equalto"] = t["eq"];
    t["=="] = t["eq"];
    t["ne"] = [](const BuiltinContext&, const Value& v, CallArgs& a) { return compare_op(v, arg(a, 0, "other"), "!="); };
    t["!="] = t["ne"];
    t["lt"] = [](const BuiltinContext&, const Value& v, CallArgs& a) { return compare_op(v, arg(a, 0, "other"), "<"); };
    t["lessthan"] = t["lt"];
    t["<"] = t["lt"];
    t["le"] = [](const BuiltinContext&, const Value& v, CallArgs& a) { return compare_op(v, arg(a, 0, "other"), "<="); };
    t["<="] = t["le"];
    t["gt"] = [](const BuiltinContext&, const Value& v, CallArgs& a) { return compare_op(v, arg(a, 0, "other"), ">"); };
    t["greaterthan"] = t["gt"];
    t[">"] = t["gt"];
    t["ge"] = [](const BuiltinContext&, const Value& v, CallArgs& a) { return compare_op(v, arg(a, 0, "other"), ">="); };
    t[">="] = t["ge"];
    t["in"] = [](const BuiltinContext&, const Value& v, CallArgs& a) {
      const Value& seq = arg(a, 0, "seq");
      if (seq.is_string()) {
        if (!v.is_string()) fail("'in <string>' requires string as left operand, not {}", v.type_name());
        return seq.as_string().find(v.as_string()) != std::string::npos;
      }
      if (seq.is_plain_dict()) return seq.as_dict().find(v) != nullptr;
      for (const auto& item : seq.iterate())
        if (item.equals(v)) return true;
      return false;
    };
    t["sameas"] = [](const BuiltinContext&, const Value& v, CallArgs& a) {
      const Value& other = arg(a, 0, "other");
      if (v.identity() || other.identity()) return v.identity() == other.identity();
      // None, True and False are singletons; small ints and equal strings are not guaranteed.
      if (v.is_none() || other.is_none()) return v.is_none() && other.is_none();
      if (v.is_bool() && other.is_bool()) return v.as_bool() == other.as_bool();
      return v.kind() == other.kind() && v.equals(other) && !v.is_float();
    };
    // str(value).islower() / isupper(): needs a cased character.
    t["lower"] = [](const BuiltinContext&, const Value& v, CallArgs&) {
      CallArgs none;
      return get_attribute(Value(v.str()), "islower").as_callable().fn(none).truthy();
    };
    t["upper"] = [](const BuiltinContext&, const Value& v, CallArgs&) {
      CallArgs none;
      return get_attribute(Value(v.str()), "isupper").as_callable().fn(none).truthy();
    };
    t["filter"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_string() && is_known_filter(v.as_string()); };
    t["test"] = [](const BuiltinContext&, const Value& v, CallArgs&) { return v.is_string() && is_known_test(v.as_string()); };
    t["escaped"] = [](const BuiltinContext&, const Value&, CallArgs&) { return false; };
    return t;
  }();
  return table;
}

}  // namespace

bool is_known_test(std::string_view name) { return tests().count(std::string(name)) != 0; }

bool apply_test(const BuiltinContext& ctx, const std::string& name, const Value& input, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) fail("no test named '{}'", name);
  return it->second(ctx, input, args);
}

}  // namespace dragon::chat::jinja
