// The syntax tree of a template: expressions and statements, as jinja2's parser builds them.
// Every node keeps the byte offset it came from, so runtime errors can name line and column.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace dragon::chat::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
  enum class Kind {
    Literal,    // value
    Name,       // name
    ListLit,    // items
    TupleLit,   // items
    DictLit,    // items as key, value, key, value...
    Attr,       // object . name
    Item,       // object [ items[0] ]
    Slice,      // object [ a : b : c ] — items = start, stop, step (nullptr when absent)
    Call,       // object ( args, kwargs )
    Filter,     // object | name ( args, kwargs ); object null inside {% filter %}
    Test,       // object is [not] name ( args, kwargs ) — negated
    Neg, Pos, Not,  // object
    Binary,     // items[0] op items[1]: + - * / // % ** ~
    And, Or,    // items[0], items[1]
    Compare,    // items[0] ops[k] items[k+1]...
    CondExpr,   // items = then, test, else (else nullptr when absent)
  };
  Kind kind;
  size_t offset = 0;
  Value value;
  std::string name;          // Name, Attr, Call/Filter/Test name, Binary operator
  ExprPtr object;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;                          // Compare operators
  std::vector<std::pair<std::string, ExprPtr>> kwargs;   // Call/Filter/Test keyword arguments
  bool negated = false;

  Expr(Kind k, size_t off) : kind(k), offset(off) {}
};

// A name to assign: `x`, `a, b` (unpacking), or `ns.attr`.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  bool is_tuple = false;
  std::string attribute;  // set when the target is names[0].attribute
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Stmt {
  enum class Kind {
    Text,       // text
    Print,      // expr
    If,         // conditions[k] -> bodies[k]; else_body
    For,        // target in expr [if condition] body else_body, recursive
    Set,        // target = expr
    SetBlock,   // target (| filters) = rendered body
    Macro,      // name(params) body
    CallBlock,  // expr = the call; params = caller's parameters; body = caller
    FilterBlock,// filters applied to rendered body (expr = filter chain with null innermost object)
    With,       // assignments (targets/values) then body
    Break,
    Continue,
    Scope,      // a plain body with no scope of its own ({% generation %})
  };
  Kind kind;
  size_t offset = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  Target target;
  std::vector<Target> targets;
  std::vector<ExprPtr> values;
  std::string name;
  std::vector<MacroParam> params;
  bool recursive = false;
  bool uses_caller = false;  // a macro whose body mentions `caller`

  Stmt(Kind k, size_t off) : kind(k), offset(off) {}
};

}  // namespace dragon::chat::jinja
