// The builtins a template can reach: filters, tests, methods of str / list / dict, and the
// attribute / item lookup rules of jinja2's ImmutableSandboxedEnvironment (which HF uses):
// `x.name` tries the Python attribute (a method) first and then the item; `x[key]` the other way
// round; methods that mutate a list or dict in place (append, update, ...) are refused.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "chat/jinja_value.h"

namespace dragon::chat::jinja {

// Calls back into the interpreter: filters such as map/select apply other filters and tests,
// and may call template callables.
struct BuiltinContext {
  std::function<Value(const std::string& filter, Value input, CallArgs& args)> apply_filter;
  std::function<bool(const std::string& test, const Value& input, CallArgs& args)> apply_test;
  std::function<Value(const Value& callable, CallArgs& args)> call;
};

bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);

// Throws dragon::Error (without position; the interpreter adds it) when the filter fails.
Value apply_filter(const BuiltinContext& ctx, const std::string& name, Value input, CallArgs& args);
bool apply_test(const BuiltinContext& ctx, const std::string& name, const Value& input, CallArgs& args);

// jinja2's environment.getattr / getitem under the sandbox. An absent attribute is Undefined;
// any lookup on Undefined itself throws (jinja2's default Undefined).
Value get_attribute(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);

// The bound method `object.name`, or Undefined if the type has no such method.
Value bound_method(const Value& object, const std::string& name);

// Python slicing with optional start/stop/step (Undefined or None means absent).
Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step);

}  // namespace dragon::chat::jinja
