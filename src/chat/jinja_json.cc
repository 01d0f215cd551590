// json.dumps(value, ensure_ascii=False, ...) byte for byte: the `tojson` filter HF installs.
// Python's encoder: ", " / ": " separators (", " becomes "," once an indent is given), floats
// by repr (NaN / Infinity spelled as Python does), non-ASCII text kept, control characters as
// \u00XX, and dict keys coerced to strings.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "chat/jinja_utf8.h"
#include "chat/jinja_value.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

constexpr int kMaxJsonDepth = 500;

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += char(c);
    }
  }
  out += '"';
}

std::string json_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  return python_float_repr(v);
}

// A dict key as json.dumps coerces it.
std::string json_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String: return key.as_string();
    case Value::Kind::Bool: return key.as_bool() ? "true" : "false";
    case Value::Kind::None: return "null";
    case Value::Kind::Int: return std::to_string(key.as_int());
    case Value::Kind::Float: return json_float(key.as_double());
    default: fail("keys must be str, int, float, bool or None, not {}", key.type_name());
  }
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonDumpOptions& o) : options_(o) {
    item_sep_ = o.has_separators ? o.item_separator : (o.has_indent ? "," : ", ");
    key_sep_ = o.has_separators ? o.key_separator : ": ";
  }

  void write(const Value& v, int depth) {
    if (depth > kMaxJsonDepth) fail("tojson: nesting deeper than {} levels", kMaxJsonDepth);
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out += std::to_string(v.as_int()); return;
      case Value::Kind::Float: out += json_float(v.as_double()); return;
      case Value::Kind::String: append_json_string(out, v.as_string()); return;
      case Value::Kind::List: {
        if (v.is_generator()) break;
        const auto& items = v.as_list().items;
        if (items.empty()) { out += "[]"; return; }
        out += '[';
        for (size_t k = 0; k < items.size(); ++k) {
          out += k ? item_sep_ : "";
          newline(depth + 1);
          write(items[k], depth + 1);
        }
        newline(depth);
        out += ']';
        return;
      }
      case Value::Kind::Dict: {
        if (!v.is_plain_dict()) break;
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [k, val] : v.as_dict().entries) entries.emplace_back(json_key(k), &val);
        if (entries.empty()) { out += "{}"; return; }
        if (options_.sort_keys)
          std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t k = 0; k < entries.size(); ++k) {
          out += k ? item_sep_ : "";
          newline(depth + 1);
          append_json_string(out, entries[k].first);
          out += key_sep_;
          write(*entries[k].second, depth + 1);
        }
        newline(depth);
        out += '}';
        return;
      }
      default: break;
    }
    fail("Object of type {} is not JSON serializable", v.type_name());
  }

  std::string out;

 private:
  void newline(int depth) {
    if (!options_.has_indent) return;
    out += '\n';
    for (int k = 0; k < depth; ++k) out += options_.indent;
  }

  const JsonDumpOptions& options_;
  std::string item_sep_, key_sep_;
};

}  // namespace

std::string python_json_dumps(const Value& v, const JsonDumpOptions& options) {
  JsonWriter w(options);
  w.write(v, 0);
  return std::move(w.out);
}

}  // namespace dragon::chat::jinja
