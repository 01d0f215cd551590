#include "server/json_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "util/error.h"

namespace dragon {

using json = nlohmann::json;

namespace {

constexpr int64_t kInfinite = int64_t{1} << 40;

// Keywords that only describe: they change nothing a value may be.
const std::set<std::string>& annotation_keywords() {
  static const std::set<std::string> k = {"title", "description", "default", "examples", "$schema", "$id", "$comment",
                                          "deprecated", "readOnly", "writeOnly", "$defs", "definitions"};
  return k;
}

const char* const kSupported =
    "supported: type, properties, required, additionalProperties, items, minItems, maxItems, minLength, maxLength, "
    "enum, const, anyOf, $ref, nullable";

std::string key_text(const std::string& name) {
  const std::string quoted = json(name).dump();
  return quoted.substr(1, quoted.size() - 2);
}

int64_t add_len(int64_t a, int64_t b) { return std::min(kInfinite, a + b); }

}  // namespace

class SchemaCompiler {
 public:
  SchemaCompiler(const json& root, bool strict, JsonSchema& out) : root_(root), strict_(strict), out_(out) {}

  void builtins() {
    auto& n = out_.nodes_;
    n.resize(6);
    n[JsonSchema::kAny].kind = SchemaNode::Kind::Any;
    n[JsonSchema::kAnyObject].kind = SchemaNode::Kind::Object;
    n[JsonSchema::kAnyObject].additional = JsonSchema::kAny;
    n[JsonSchema::kAnyArray].kind = SchemaNode::Kind::Array;
    n[JsonSchema::kAnyArray].items = JsonSchema::kAny;
    n[JsonSchema::kAnyString].kind = SchemaNode::Kind::String;
    n[JsonSchema::kAnyNumber].kind = SchemaNode::Kind::Number;
    n[JsonSchema::kAnyLiteral].kind = SchemaNode::Kind::Literal;
    n[JsonSchema::kAnyLiteral].literals = {"false", "null", "true"};
  }

  int32_t compile(const json& s, const std::string& path) {
    if (++depth_ > 64) fail("{}: the schema nests deeper than 64 levels", path);
    const int32_t id = compile_inner(s, path);
    --depth_;
    return id;
  }

  // Shortest instance of every node, by fixed point (recursive $refs start at "infinite").
  void measure(const std::string& path) {
    auto& nodes = out_.nodes_;
    for (auto& n : nodes) n.min_len = kInfinite;
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& n : nodes) {
        const int64_t len = shortest(n);
        if (len < n.min_len) {
          n.min_len = len;
          changed = true;
        }
      }
    }
    for (auto& n : nodes)
      for (auto& p : n.properties) p.entry_len = add_len(1 + int64_t(p.key.size()) + 3, nodes[size_t(p.node)].min_len);
    if (nodes[size_t(out_.root_)].min_len >= kInfinite)
      fail("{}: no finite JSON value matches the schema (a required property refers back to itself)", path);
    // anyOf / $ref edges write nothing: a cycle of them would send the matcher round forever.
    std::vector<uint8_t> mark(nodes.size(), 0);  // 0 new, 1 on the path, 2 done
    for (size_t i = 0; i < nodes.size(); ++i)
      if (epsilon_cycle(int32_t(i), mark)) fail("{}: a $ref or anyOf refers back to itself before any value is written", path);
  }

 private:
  bool epsilon_cycle(int32_t i, std::vector<uint8_t>& mark) const {
    if (mark[size_t(i)] == 1) return true;
    if (mark[size_t(i)] == 2) return false;
    mark[size_t(i)] = 1;
    for (int32_t a : out_.nodes_[size_t(i)].alternatives)
      if (epsilon_cycle(a, mark)) return true;
    mark[size_t(i)] = 2;
    return false;
  }

  int64_t shortest(const SchemaNode& n) const {
    const auto& nodes = out_.nodes_;
    const auto len = [&](int32_t i) { return nodes[size_t(i)].min_len; };
    switch (n.kind) {
      case SchemaNode::Kind::Any: case SchemaNode::Kind::Number: case SchemaNode::Kind::Integer: return 1;
      case SchemaNode::Kind::String: return 2 + n.min_length;
      case SchemaNode::Kind::Literal: {
        int64_t best = kInfinite;
        for (const auto& l : n.literals) best = std::min(best, int64_t(l.size()));
        return best;
      }
      case SchemaNode::Kind::AnyOf: {
        int64_t best = kInfinite;
        for (int32_t a : n.alternatives) best = std::min(best, len(a));
        return best;
      }
      case SchemaNode::Kind::Array:
        if (n.min_items == 0) return 2;
        return add_len(2 + (n.min_items - 1), n.min_items >= kInfinite / 2 ? kInfinite : std::min(kInfinite, n.min_items * len(n.items)));
      case SchemaNode::Kind::Object: {
        int64_t total = 2, count = 0;
        for (const auto& p : n.properties)
          if (p.required) {
            total = add_len(total, int64_t(p.key.size()) + 3 + len(p.node));
            ++count;
          }
        return add_len(total, std::max<int64_t>(count - 1, 0));
      }
    }
    return kInfinite;
  }

  int32_t add(SchemaNode n) {
    if (out_.nodes_.size() > 20000) fail("the schema is too large (over 20000 nodes)");
    out_.nodes_.push_back(std::move(n));
    return int32_t(out_.nodes_.size() - 1);
  }

  const json& resolve(const std::string& ref, const std::string& path) {
    if (ref == "#") return root_;
    std::string pointer;
    if (ref.rfind("#/", 0) == 0) pointer = ref.substr(1);
    else fail("{}.$ref: {:?} is not supported (only \"#\", \"#/$defs/NAME\" and \"#/definitions/NAME\")", path, ref);
    try {
      const json& target = root_.at(json::json_pointer(pointer));
      return target;
    } catch (const std::exception&) {
      fail("{}.$ref: {:?} does not point into the schema", path, ref);
    }
  }

  int32_t compile_inner(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail("{}: the schema `false` matches nothing", path);
      return JsonSchema::kAny;
    }
    if (!s.is_object()) fail("{}: expected a schema object", path);
    for (const auto& [key, value] : s.items()) {
      static const std::set<std::string> known = {"type", "properties", "required", "additionalProperties", "items",
                                                  "minItems", "maxItems", "minLength", "maxLength", "enum", "const",
                                                  "anyOf", "allOf", "$ref", "nullable"};
      if (!known.count(key) && !annotation_keywords().count(key))
        fail("{}: keyword {:?} is not supported for constrained decoding ({})", path, key, kSupported);
    }
    if (s.contains("$ref")) {
      for (const auto& [key, value] : s.items())
        if (key != "$ref" && !annotation_keywords().count(key)) fail("{}: keyword {:?} beside $ref is not supported", path, key);
      if (!s["$ref"].is_string()) fail("{}.$ref: expected a string", path);
      const std::string ref = s["$ref"].get<std::string>();
      if (auto it = refs_.find(ref); it != refs_.end()) return it->second;
      // Reserve the node first: a recursive reference finds it while its target compiles.
      const int32_t id = add(SchemaNode{});
      refs_[ref] = id;
      const int32_t target = compile(resolve(ref, path), path + ".$ref");
      SchemaNode alias;
      alias.kind = SchemaNode::Kind::AnyOf;
      alias.alternatives = {target};
      out_.nodes_[size_t(id)] = alias;
      return id;
    }
    if (s.contains("allOf")) {
      const json& all = s["allOf"];
      if (!all.is_array() || all.size() != 1 || s.size() != 1 + count_annotations(s))
        fail("{}.allOf: only an allOf of exactly one schema, alone, is supported", path);
      return compile(all[0], path + ".allOf[0]");
    }
    const bool nullable = s.contains("nullable") && s["nullable"].is_boolean() && s["nullable"].get<bool>();
    if (s.contains("nullable") && !s["nullable"].is_boolean()) fail("{}.nullable: expected true or false", path);

    int32_t id;
    if (s.contains("anyOf")) {
      const json& any = s["anyOf"];
      if (!any.is_array() || any.empty()) fail("{}.anyOf: expected a non-empty list of schemas", path);
      SchemaNode n;
      n.kind = SchemaNode::Kind::AnyOf;
      for (size_t i = 0; i < any.size(); ++i) n.alternatives.push_back(compile(any[i], fmt::format("{}.anyOf[{}]", path, i)));
      // Other keywords beside anyOf would have to hold for every branch: refuse them.
      for (const auto& [key, value] : s.items())
        if (key != "anyOf" && key != "nullable" && !annotation_keywords().count(key))
          fail("{}: keyword {:?} beside anyOf is not supported; move it into the branches", path, key);
      id = add(std::move(n));
    } else if (s.contains("enum") || s.contains("const")) {
      id = literal_node(s, path);
    } else {
      std::vector<std::string> types;
      if (s.contains("type")) {
        const json& t = s["type"];
        if (t.is_string()) types.push_back(t.get<std::string>());
        else if (t.is_array() && !t.empty())
          for (const auto& e : t) {
            if (!e.is_string()) fail("{}.type: expected a type name or a list of names", path);
            types.push_back(e.get<std::string>());
          }
        else fail("{}.type: expected a type name or a list of names", path);
      } else if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
        types.push_back("object");
      } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
        types.push_back("array");
      } else if (s.contains("minLength") || s.contains("maxLength")) {
        types.push_back("string");
      }
      if (types.empty()) {
        id = JsonSchema::kAny;
      } else {
        check_keywords_fit(s, types, path);
        SchemaNode alts;
        alts.kind = SchemaNode::Kind::AnyOf;
        for (const auto& type : types) alts.alternatives.push_back(typed_node(s, type, path));
        id = alts.alternatives.size() == 1 ? alts.alternatives[0] : add(std::move(alts));
      }
    }
    if (nullable) {
      SchemaNode n;
      n.kind = SchemaNode::Kind::AnyOf;
      n.alternatives = {id, null_node()};
      id = add(std::move(n));
    }
    return id;
  }

  static size_t count_annotations(const json& s) {
    size_t n = 0;
    for (const auto& [key, value] : s.items()) n += annotation_keywords().count(key);
    return n;
  }

  int32_t null_node() {
    SchemaNode n;
    n.kind = SchemaNode::Kind::Literal;
    n.literals = {"null"};
    return add(std::move(n));
  }

  int32_t literal_node(const json& s, const std::string& path) {
    for (const auto& [key, value] : s.items())
      if (key != "enum" && key != "const" && key != "type" && key != "nullable" && !annotation_keywords().count(key))
        fail("{}: keyword {:?} beside enum/const is not supported", path, key);
    if (s.contains("enum") && s.contains("const")) fail("{}: give enum or const, not both", path);
    SchemaNode n;
    n.kind = SchemaNode::Kind::Literal;
    if (s.contains("const")) {
      n.literals.push_back(s["const"].dump());
    } else {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) fail("{}.enum: expected a non-empty list of values", path);
      for (const auto& v : e) n.literals.push_back(v.dump());
    }
    std::sort(n.literals.begin(), n.literals.end());
    n.literals.erase(std::unique(n.literals.begin(), n.literals.end()), n.literals.end());
    return add(std::move(n));
  }

  // Keywords of one type given to another ("minLength" on an integer) are a mistake we name.
  void check_keywords_fit(const json& s, const std::vector<std::string>& types, const std::string& path) {
    const auto has = [&](const char* t) { return std::find(types.begin(), types.end(), t) != types.end(); };
    for (const char* k : {"properties", "required", "additionalProperties"})
      if (s.contains(k) && !has("object")) fail("{}: keyword {:?} needs type \"object\"", path, k);
    for (const char* k : {"items", "minItems", "maxItems"})
      if (s.contains(k) && !has("array")) fail("{}: keyword {:?} needs type \"array\"", path, k);
    for (const char* k : {"minLength", "maxLength"})
      if (s.contains(k) && !has("string")) fail("{}: keyword {:?} needs type \"string\"", path, k);
  }

  int64_t count_field(const json& s, const char* key, const std::string& path) {
    if (!s.contains(key)) return -1;
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 100000)
      fail("{}.{}: expected an integer between 0 and 100000", path, key);
    return v.get<int64_t>();
  }

  int32_t typed_node(const json& s, const std::string& type, const std::string& path) {
    SchemaNode n;
    if (type == "string") {
      n.kind = SchemaNode::Kind::String;
      n.min_length = std::max<int64_t>(0, count_field(s, "minLength", path));
      n.max_length = count_field(s, "maxLength", path);
      if (n.max_length >= 0 && n.max_length < n.min_length) fail("{}: maxLength is below minLength", path);
    } else if (type == "number") {
      n.kind = SchemaNode::Kind::Number;
    } else if (type == "integer") {
      n.kind = SchemaNode::Kind::Integer;
    } else if (type == "boolean") {
      n.kind = SchemaNode::Kind::Literal;
      n.literals = {"false", "true"};
    } else if (type == "null") {
      return null_node();
    } else if (type == "array") {
      n.kind = SchemaNode::Kind::Array;
      n.min_items = std::max<int64_t>(0, count_field(s, "minItems", path));
      n.max_items = count_field(s, "maxItems", path);
      if (n.max_items >= 0 && n.max_items < n.min_items) fail("{}: maxItems is below minItems", path);
      if (s.contains("items")) {
        if (s["items"].is_array()) fail("{}.items: a list of schemas (tuple validation) is not supported", path);
        n.items = compile(s["items"], path + ".items");
      } else {
        n.items = JsonSchema::kAny;
      }
    } else if (type == "object") {
      n.kind = SchemaNode::Kind::Object;
      object_fields(s, path, n);
    } else {
      fail("{}.type: {:?} is not one of string, number, integer, boolean, null, array, object", path, type);
    }
    return add(std::move(n));
  }

  void object_fields(const json& s, const std::string& path, SchemaNode& n) {
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail("{}.required: expected a list of property names", path);
      for (const auto& r : s["required"]) {
        if (!r.is_string()) fail("{}.required: expected a list of property names", path);
        required.insert(r.get<std::string>());
      }
    }
    std::set<std::string> declared;
    if (s.contains("properties")) {
      const json& props = s["properties"];
      if (!props.is_object()) fail("{}.properties: expected an object", path);
      if (props.size() > 64) fail("{}.properties: at most 64 properties per object are supported", path);
      for (const auto& [name, sub] : props.items()) {
        SchemaNode::Property p;
        p.key = key_text(name);
        p.required = required.count(name) > 0;
        p.node = compile(sub, fmt::format("{}.properties.{}", path, name));
        n.properties.push_back(std::move(p));
        declared.insert(name);
      }
    }
    if (s.contains("additionalProperties")) {
      const json& a = s["additionalProperties"];
      if (a.is_boolean()) n.additional = a.get<bool>() ? JsonSchema::kAny : -1;
      else n.additional = compile(a, path + ".additionalProperties");
    } else if (n.properties.empty()) {
      n.additional = JsonSchema::kAny;  // {"type": "object"}: any object
    }
    for (const auto& r : required)
      if (!declared.count(r)) {
        if (n.additional < 0) fail("{}.required: {:?} is not among the properties, and no other property is allowed", path, r);
        fail("{}.required: {:?} must be declared in properties to be enforced", path, r);
      }
    if (strict_) {
      if (!s.contains("additionalProperties") || s["additionalProperties"] != false)
        fail("{}: strict mode requires \"additionalProperties\": false on every object", path);
      for (const auto& name : declared)
        if (!required.count(name)) fail("{}: strict mode requires every property in required; {:?} is missing", path, name);
    }
    std::sort(n.properties.begin(), n.properties.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  }

  const json& root_;
  bool strict_;
  JsonSchema& out_;
  std::map<std::string, int32_t> refs_;
  int depth_ = 0;
};

std::shared_ptr<const JsonSchema> JsonSchema::compile(const json& schema, bool strict) {
  auto out = std::make_shared<JsonSchema>();
  SchemaCompiler c(schema, strict, *out);
  c.builtins();
  out->root_ = c.compile(schema, "schema");
  c.measure("schema");
  return out;
}

std::shared_ptr<const JsonSchema> JsonSchema::any(bool object_only) {
  auto out = std::make_shared<JsonSchema>();
  SchemaCompiler c(json::object(), false, *out);
  c.builtins();
  out->root_ = object_only ? kAnyObject : kAny;
  c.measure("schema");
  return out;
}

}  // namespace dragon
