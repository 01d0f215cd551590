// Values of the Jinja engine. They model the Python objects that jinja2 templates see when HF
// transformers renders a chat template: None, bool, int, float, str, list, tuple, dict (insertion
// ordered), callables, jinja2's default Undefined, and namespace()/loop objects.
// Lists and dicts are reference types (shared), as in Python: a list stored in a namespace and
// mutated through another name changes for both.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dragon::chat::jinja {

class Value;
struct List;
struct Dict;
struct Callable;

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

  Value() = default;  // Undefined with no name
  Value(bool b) : kind_(Kind::Bool), b_(b) {}
  Value(int v) : kind_(Kind::Int), i_(v) {}
  Value(int64_t v) : kind_(Kind::Int), i_(v) {}
  Value(double v) : kind_(Kind::Float), f_(v) {}
  Value(std::string s) : kind_(Kind::String), s_(std::move(s)) {}
  Value(const char* s) : kind_(Kind::String), s_(s) {}
  Value(std::string_view s) : kind_(Kind::String), s_(s) {}
  Value(std::shared_ptr<List> l);
  Value(std::shared_ptr<Dict> d);
  Value(std::shared_ptr<Callable> c);

  // `hint` is what jinja2 would say when the undefined value is used: "'x' is undefined".
  static Value undefined(std::string hint = {});
  static Value none();
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items);
  static Value generator(std::vector<Value> items);
  static Value dict();
  // JSON objects keep their key order with ordered_json (as Python's json.loads does);
  // nlohmann::json has already sorted them.
  static Value from_json(const nlohmann::ordered_json& j);
  static Value from_json(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }  // lists and tuples
  bool is_tuple() const;
  bool is_generator() const;
  bool is_dict() const { return kind_ == Kind::Dict; }  // dicts, namespaces, loop objects
  bool is_plain_dict() const;                           // a real Python dict (a mapping)
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Bool ? int64_t(b_) : i_; }
  double as_double() const;  // any number
  const std::string& as_string() const { return s_; }
  std::string& mutable_string() { return s_; }
  List& as_list() const { return *list_; }
  Dict& as_dict() const { return *dict_; }
  const Callable& as_callable() const { return *fn_; }
  const std::string& undefined_hint() const { return s_; }
  const void* identity() const;  // for `sameas`

  bool truthy() const;
  std::string str() const;   // Python str(); Undefined prints as ""
  std::string repr() const;  // Python repr()
  std::string type_name() const;  // Python's type name, for error messages

  // Python ==, and the ordering of < (throws dragon::Error for incomparable types).
  bool equals(const Value& other) const;
  int compare(const Value& other) const;

  // Length as Python len() (strings count code points); throws for types without one.
  int64_t length() const;

  // The elements a Python `for` loop sees: list items, dict keys, string characters.
  std::vector<Value> iterate() const;

 private:
  Kind kind_ = Kind::Undefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;  // string payload, or the undefined hint
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Callable> fn_;
};

struct List {
  std::vector<Value> items;
  bool is_tuple = false;
  // What jinja2's map / select / reject / selectattr / rejectattr / unique / items filters
  // return: a one-shot Python generator. It is always truthy, has no len(), cannot be indexed
  // or passed to tojson, and a second iteration sees nothing.
  bool is_generator = false;
  mutable bool consumed = false;
};

struct Dict {
  // Namespace: jinja2's namespace(); Loop: the `loop` variable of a for loop. Both allow
  // attribute access to their entries but are not mappings.
  enum class Flavor : uint8_t { Plain, Namespace, Loop };
  Flavor flavor = Flavor::Plain;
  std::vector<std::pair<Value, Value>> entries;

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value value);
  bool erase(const Value& key);
};

// Arguments of a call: positional first, then keyword ones in call order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Python-style binding for builtins: parameter `index` named `name`, else `fallback`.
  const Value* find(size_t index, std::string_view name) const;
  Value get(size_t index, std::string_view name, Value fallback = Value()) const;
};

struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> fn;
};

// Python's repr of a float: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string python_float_repr(double v);
// Python's repr of a str: quotes chosen like Python, escapes for non-printable characters.
std::string python_string_repr(std::string_view s);
// json.dumps(v, ensure_ascii=False, indent=..., separators=..., sort_keys=...) byte for byte.
// `indent` empty means None; item/key separators default as Python's do.
struct JsonDumpOptions {
  bool has_indent = false;
  std::string indent;
  bool has_separators = false;
  std::string item_separator;
  std::string key_separator;
  bool sort_keys = false;
};
std::string python_json_dumps(const Value& v, const JsonDumpOptions& options);

// Python's str.isspace() for one code point (also what `\s` matches in Python's re module).
bool is_python_space(uint32_t cp);

}  // namespace dragon::chat::jinja
