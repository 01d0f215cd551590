// response_format {"type": "json_schema"}: a JSON Schema compiled into a graph of nodes that
// the character-level matcher (json_schema_matcher.h) walks while the model writes.
//
// The subset is what OpenAI's structured outputs accept, plus a few cheap extras:
//   type (a name or a list of names: ["string", "null"] is how a field is made nullable),
//   object: properties, required, additionalProperties (false, true or a schema);
//   array: items, minItems, maxItems; string: minLength, maxLength;
//   number, integer, boolean, null; enum, const; anyOf (allOf of one schema);
//   $ref to "#", "#/$defs/..." or "#/definitions/..." (recursion allowed); nullable (OpenAPI).
// Annotations (title, description, default, examples, $schema, $id, $comment...) are ignored.
// Every other keyword (pattern, format, minimum, oneOf, ...) is refused with an error naming
// it and where it is: a constraint we cannot enforce must not be silently dropped.
//
// Properties of an object may come in any order; with additionalProperties absent only the
// declared ones are written (a valid instance either way). With `strict` the schema must also
// follow OpenAI's strict rules: every object says additionalProperties: false and lists all
// its properties in required.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dragon {

struct SchemaNode {
  enum class Kind : uint8_t { Any, Object, Array, String, Number, Integer, Literal, AnyOf };
  struct Property {
    std::string key;        // the name as JSON writes it between the quotes (escaped)
    int32_t node = -1;
    bool required = false;
    int64_t entry_len = 0;  // shortest `,"key":value`
  };

  Kind kind = Kind::Any;
  std::vector<Property> properties;  // Object: sorted by key bytes (keys are matched as literals)
  int32_t additional = -1;           // Object: the node of undeclared properties' values, -1 = none allowed
  int32_t items = -1;                // Array
  int64_t min_items = 0, max_items = -1;
  int64_t min_length = 0, max_length = -1;  // String, in characters (-1 = unbounded)
  std::vector<std::string> literals;  // Literal: the exact texts allowed (enum, const, true/false, null), sorted
  std::vector<int32_t> alternatives;  // AnyOf
  int64_t min_len = 0;                // bytes of the shortest text matching this node
};

class JsonSchema {
 public:
  // Throws dragon::Error naming the keyword and its place ("schema.properties.age: keyword
  // \"minimum\" is not supported ...") for anything outside the subset.
  static std::shared_ptr<const JsonSchema> compile(const nlohmann::json& schema, bool strict = false);
  // {} : any JSON value; object_only: any JSON object (response_format json_object).
  static std::shared_ptr<const JsonSchema> any(bool object_only);

  const SchemaNode& node(int32_t index) const { return nodes_[size_t(index)]; }
  int32_t root() const { return root_; }
  size_t size() const { return nodes_.size(); }

  // Nodes every schema has, for values of any type.
  static constexpr int32_t kAny = 0, kAnyObject = 1, kAnyArray = 2, kAnyString = 3, kAnyNumber = 4, kAnyLiteral = 5;

 private:
  friend class SchemaCompiler;
  std::vector<SchemaNode> nodes_;
  int32_t root_ = kAny;
};

}  // namespace dragon
