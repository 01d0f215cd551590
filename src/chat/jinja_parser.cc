// Recursive descent over the token list, one function per grammar rule of jinja2/parser.py.
#include "chat/jinja_parser.h"

#include <fmt/format.h>

#include <initializer_list>

#include "chat/jinja_builtins.h"
#include "chat/jinja_lexer.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

constexpr int kMaxNesting = 200;  // expression / block nesting, so a hostile template cannot overflow the stack

using TT = Token::Type;

class Parser {
 public:
  Parser(const std::string& source, std::vector<Token> tokens) : src_(source), tokens_(std::move(tokens)) {}

  Body parse_all() {
    Body body = parse_body({});
    if (cur().type != TT::End) error(cur(), "unexpected token");
    return body;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t k = 1) const { return tokens_[std::min(pos_ + k, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == TT::Operator && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == TT::Name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void error(const Token& t, const std::string& what) const {
    fail("{}: {}", describe_position(src_, t.offset), what);
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TT::Text: return "template data";
      case TT::VarBegin: return "'{{'";
      case TT::VarEnd: return "'}}'";
      case TT::BlockBegin: return "'{%'";
      case TT::BlockEnd: return "'%}'";
      case TT::End: return "end of template";
      case TT::String: return "string literal";
      default: return "'" + t.text + "'";
    }
  }

  void expect_op(const char* op) {
    if (!skip_op(op)) error(cur(), fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().type != TT::Name) error(cur(), fmt::format("expected a name, got {}", describe(cur())));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TT::BlockEnd) error(cur(), fmt::format("expected end of statement '%}}', got {}", describe(cur())));
    advance();
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting) p_.error(p_.cur(), fmt::format("template nesting deeper than {} levels", kMaxNesting));
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // ---- statements ----

  // Parses until a block tag whose first name is in `end_names` (left unconsumed, positioned
  // at that name), or the end of the template if `end_names` is empty.
  Body parse_body(std::initializer_list<const char*> end_names) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TT::End) {
        if (end_names.size() != 0) {
          std::string expected;
          for (const char* n : end_names) expected += (expected.empty() ? "'" : " or '") + std::string(n) + "'";
          error(t, fmt::format("unexpected end of template, expected {}", expected));
        }
        return body;
      }
      if (t.type == TT::Text) {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Text, t.offset);
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.type == TT::VarBegin) {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Print, t.offset);
        advance();
        s->expr = parse_tuple(true, {});
        if (cur().type != TT::VarEnd) error(cur(), fmt::format("expected end of print statement '}}}}', got {}", describe(cur())));
        advance();
        body.push_back(std::move(s));
      } else if (t.type == TT::BlockBegin) {
        const Token& kw = peek();
        if (kw.type != TT::Name) error(kw, "tag name expected");
        for (const char* n : end_names) {
          if (kw.text == n) {
            advance();  // now at the name
            return body;
          }
        }
        advance();
        body.push_back(parse_statement());
      } else {
        error(t, fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& kw = cur();
    const std::string& k = kw.text;
    const size_t off = kw.offset;
    if (k == "if") return parse_if();
    if (k == "for") return parse_for();
    if (k == "set") return parse_set();
    if (k == "macro") return parse_macro();
    if (k == "call") return parse_call_block();
    if (k == "filter") return parse_filter_block();
    if (k == "with") return parse_with();
    if (k == "break" || k == "continue") {
      advance();
      expect_block_end();
      return std::make_unique<Stmt>(k == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, off);
    }
    if (k == "print") {
      advance();
      auto s = std::make_unique<Stmt>(Stmt::Kind::Print, off);
      s->expr = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    if (k == "generation") {  // HF's AssistantTracker: renders its body
      advance();
      expect_block_end();
      auto s = std::make_unique<Stmt>(Stmt::Kind::Scope, off);
      s->body = parse_body({"endgeneration"});
      end_tag();
      return s;
    }
    if (k == "block" || k == "extends" || k == "include" || k == "import" || k == "from" || k == "autoescape")
      error(kw, fmt::format("'{}' is not supported in chat templates", k));
    if (k.starts_with("end") || k == "elif" || k == "else")
      error(kw, fmt::format("unexpected '{}' tag", k));
    error(kw, fmt::format("unknown tag '{}'", k));
  }

  // Consumes "endxxx %}" (we are positioned at the name).
  void end_tag() {
    advance();
    expect_block_end();
  }

  StmtPtr parse_if() {
    auto s = std::make_unique<Stmt>(Stmt::Kind::If, cur().offset);
    advance();
    while (true) {
      s->conditions.push_back(parse_tuple(false, {}));
      expect_block_end();
      s->bodies.push_back(parse_body({"elif", "else", "endif"}));
      const std::string which = cur().text;
      advance();
      if (which == "elif") continue;
      if (which == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"});
        end_tag();
      } else {
        expect_block_end();
      }
      return s;
    }
  }

  StmtPtr parse_for() {
    auto s = std::make_unique<Stmt>(Stmt::Kind::For, cur().offset);
    advance();
    s->target = parse_assign_target(false);
    if (!skip_name("in")) error(cur(), fmt::format("expected 'in', got {}", describe(cur())));
    s->expr = parse_tuple(false, {"recursive"});
    if (skip_name("if")) s->condition = parse_expression(true);
    s->recursive = skip_name("recursive");
    expect_block_end();
    s->body = parse_body({"endfor", "else"});
    if (cur().text == "else") {
      advance();
      expect_block_end();
      s->else_body = parse_body({"endfor"});
    }
    end_tag();
    return s;
  }

  StmtPtr parse_set() {
    const size_t off = cur().offset;
    advance();
    Target target = parse_assign_target(true);
    if (skip_op("=")) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::Set, off);
      s->target = std::move(target);
      s->expr = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    auto s = std::make_unique<Stmt>(Stmt::Kind::SetBlock, off);
    s->target = std::move(target);
    if (is_op("|")) s->expr = parse_filters(nullptr, false);
    expect_block_end();
    s->body = parse_body({"endset"});
    end_tag();
    return s;
  }

  std::vector<MacroParam> parse_signature() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam p;
      p.name = expect_name();
      if (skip_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  StmtPtr parse_macro() {
    auto s = std::make_unique<Stmt>(Stmt::Kind::Macro, cur().offset);
    advance();
    s->name = expect_name();
    s->params = parse_signature();
    expect_block_end();
    s->body = parse_body({"endmacro"});
    end_tag();
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = std::make_unique<Stmt>(Stmt::Kind::CallBlock, cur().offset);
    advance();
    if (is_op("(")) s->params = parse_signature();
    s->expr = parse_expression(true);
    if (s->expr->kind != Expr::Kind::Call) error(cur(), "expected call");
    expect_block_end();
    s->body = parse_body({"endcall"});
    end_tag();
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = std::make_unique<Stmt>(Stmt::Kind::FilterBlock, cur().offset);
    advance();
    s->expr = parse_filters(nullptr, true);
    expect_block_end();
    s->body = parse_body({"endfilter"});
    end_tag();
    return s;
  }

  StmtPtr parse_with() {
    auto s = std::make_unique<Stmt>(Stmt::Kind::With, cur().offset);
    advance();
    while (cur().type != TT::BlockEnd) {
      if (!s->targets.empty()) expect_op(",");
      s->targets.push_back(parse_assign_target(false));
      expect_op("=");
      s->values.push_back(parse_expression(true));
    }
    expect_block_end();
    s->body = parse_body({"endwith"});
    end_tag();
    return s;
  }

  // `x`, `ns.attr` (with_namespace), `a, b`, `(a, b)`.
  Target parse_assign_target(bool with_namespace) {
    Target t;
    if (with_namespace && cur().type == TT::Name && peek().type == TT::Operator && peek().text == ".") {
      t.names.push_back(expect_name());
      advance();
      t.attribute = expect_name();
      return t;
    }
    const bool paren = skip_op("(");
    while (true) {
      t.names.push_back(expect_name());
      if (!skip_op(",")) break;
      t.is_tuple = true;
      if (cur().type != TT::Name) break;  // trailing comma
    }
    if (paren) {
      expect_op(")");
      t.is_tuple = true;
    }
    return t;
  }

  // ---- expressions ----

  ExprPtr make(Expr::Kind k, size_t off) { return std::make_unique<Expr>(k, off); }

  bool is_tuple_end(std::initializer_list<const char*> extra_end) const {
    const Token& t = cur();
    if (t.type == TT::VarEnd || t.type == TT::BlockEnd || t.type == TT::End) return true;
    if (t.type == TT::Operator && t.text == ")") return true;
    if (t.type == TT::Name)
      for (const char* e : extra_end)
        if (t.text == e) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra_end, bool explicit_parens = false) {
    const size_t off = cur().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) error(cur(), fmt::format("expected an expression, got {}", describe(cur())));
    }
    auto e = make(Expr::Kind::TupleLit, off);
    e->items = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    const size_t off = cur().offset;
    ExprPtr expr1 = parse_or();
    while (skip_name("if")) {
      auto e = make(Expr::Kind::CondExpr, off);
      ExprPtr test = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
      e->items.push_back(std::move(expr1));
      e->items.push_back(std::move(test));
      e->items.push_back(std::move(otherwise));
      expr1 = std::move(e);
    }
    return expr1;
  }

  ExprPtr binary(Expr::Kind k, ExprPtr l, ExprPtr r, size_t off, std::string op = {}) {
    auto e = make(k, off);
    e->name = std::move(op);
    e->items.push_back(std::move(l));
    e->items.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    const size_t off = cur().offset;
    ExprPtr left = parse_and();
    while (skip_name("or")) left = binary(Expr::Kind::Or, std::move(left), parse_and(), off);
    return left;
  }

  ExprPtr parse_and() {
    const size_t off = cur().offset;
    ExprPtr left = parse_not();
    while (skip_name("and")) left = binary(Expr::Kind::And, std::move(left), parse_not(), off);
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(Expr::Kind::Not, cur().offset);
      advance();
      e->object = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const size_t off = cur().offset;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == TT::Operator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (skip_name("in")) {
        op = "in";
      } else if (is_name("not") && peek().type == TT::Name && peek().text == "in") {
        advance();
        advance();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::Compare, off);
        cmp->items.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    const size_t off = cur().offset;
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      advance();
      left = binary(Expr::Kind::Binary, std::move(left), parse_concat(), off, op);
    }
    return left;
  }

  ExprPtr parse_concat() {
    const size_t off = cur().offset;
    ExprPtr left = parse_math2();
    while (skip_op("~")) left = binary(Expr::Kind::Binary, std::move(left), parse_math2(), off, "~");
    return left;
  }

  ExprPtr parse_math2() {
    const size_t off = cur().offset;
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      advance();
      left = binary(Expr::Kind::Binary, std::move(left), parse_pow(), off, op);
    }
    return left;
  }

  ExprPtr parse_pow() {
    const size_t off = cur().offset;
    ExprPtr left = parse_unary(true);
    while (skip_op("**")) left = binary(Expr::Kind::Binary, std::move(left), parse_unary(true), off, "**");
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const size_t off = cur().offset;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const bool neg = cur().text == "-";
      advance();
      node = make(neg ? Expr::Kind::Neg : Expr::Kind::Pos, off);
      node->object = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const size_t off = t.offset;
    switch (t.type) {
      case TT::Name: {
        static const std::pair<const char*, int> consts[] = {{"true", 1}, {"True", 1}, {"false", 0}, {"False", 0}, {"none", 2}, {"None", 2}};
        for (const auto& [n, v] : consts) {
          if (t.text == n) {
            auto e = make(Expr::Kind::Literal, off);
            e->value = v == 2 ? Value::none() : Value(v == 1);
            advance();
            return e;
          }
        }
        auto e = make(Expr::Kind::Name, off);
        e->name = t.text;
        advance();
        return e;
      }
      case TT::String: {
        std::string s;
        while (cur().type == TT::String) {  // adjacent literals concatenate
          s += cur().text;
          advance();
        }
        auto e = make(Expr::Kind::Literal, off);
        e->value = Value(std::move(s));
        return e;
      }
      case TT::Int: {
        auto e = make(Expr::Kind::Literal, off);
        e->value = Value(t.int_value);
        advance();
        return e;
      }
      case TT::Float: {
        auto e = make(Expr::Kind::Literal, off);
        e->value = Value(t.float_value);
        advance();
        return e;
      }
      case TT::Operator:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          advance();
          auto e = make(Expr::Kind::ListLit, off);
          while (!is_op("]")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("]")) break;
            e->items.push_back(parse_expression(true));
          }
          expect_op("]");
          return e;
        }
        if (t.text == "{") {
          advance();
          auto e = make(Expr::Kind::DictLit, off);
          while (!is_op("}")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("}")) break;
            e->items.push_back(parse_expression(true));
            expect_op(":");
            e->items.push_back(parse_expression(true));
          }
          expect_op("}");
          return e;
        }
        break;
      default: break;
    }
    error(t, fmt::format("unexpected {}", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      const size_t off = cur().offset;
      if (is_op(".")) {
        advance();
        if (cur().type == TT::Name) {
          auto e = make(Expr::Kind::Attr, off);
          e->object = std::move(node);
          e->name = expect_name();
          node = std::move(e);
        } else if (cur().type == TT::Int) {
          auto e = make(Expr::Kind::Item, off);
          e->object = std::move(node);
          auto idx = make(Expr::Kind::Literal, cur().offset);
          idx->value = Value(cur().int_value);
          advance();
          e->items.push_back(std::move(idx));
          node = std::move(e);
        } else {
          error(cur(), "expected name or number after '.'");
        }
      } else if (is_op("[")) {
        advance();
        node = parse_subscript(std::move(node), off);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object, size_t off) {
    // [a], [a:b], [a:b:c], [:], [::c]
    ExprPtr parts[3];
    int part = 0;
    bool is_slice = false;
    if (!is_op(":")) parts[0] = parse_expression(true);
    while (skip_op(":")) {
      is_slice = true;
      if (++part > 2) error(cur(), "too many ':' in slice");
      if (!is_op(":") && !is_op("]")) parts[part] = parse_expression(true);
    }
    expect_op("]");
    auto e = make(is_slice ? Expr::Kind::Slice : Expr::Kind::Item, off);
    e->object = std::move(object);
    if (is_slice) {
      for (auto& p : parts) e->items.push_back(std::move(p));
    } else {
      e->items.push_back(std::move(parts[0]));
    }
    return e;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (cur().type == TT::Name && peek().type == TT::Operator && peek().text == "=") {
        std::string key = expect_name();
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) error(cur(), "positional argument follows keyword argument");
        e.items.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(Expr::Kind::Call, cur().offset);
    e->object = std::move(callee);
    parse_call_args(*e);
    return e;
  }

  // One or more "|name(args)". With `start_inline` the first filter has no leading pipe
  // ({% filter upper %}).
  ExprPtr parse_filters(ExprPtr node, bool start_inline) {
    while (start_inline || is_op("|")) {
      if (!start_inline) advance();
      start_inline = false;
      auto e = make(Expr::Kind::Filter, cur().offset);
      e->name = expect_name();
      while (is_op(".")) {
        advance();
        e->name += "." + expect_name();
      }
      if (is_op("(")) parse_call_args(*e);
      e->object = std::move(node);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filters(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    auto e = make(Expr::Kind::Test, cur().offset);
    advance();  // "is"
    e->negated = skip_name("not");
    e->name = expect_name();
    while (is_op(".")) {
      advance();
      e->name += "." + expect_name();
    }
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((cur().type == TT::Name || cur().type == TT::String || cur().type == TT::Int || cur().type == TT::Float ||
                is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error(cur(), "You cannot chain multiple tests with is");
      e->items.push_back(parse_postfix(parse_primary()));
    }
    e->object = std::move(node);
    return e;
  }

  const std::string& src_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// jinja2 fails at compile time on an unknown filter or test, except inside {% if %} (test and
// branches) and inline if-expressions, where it waits until the filter actually runs.
class FilterChecker {
 public:
  explicit FilterChecker(const std::string& src) : src_(src) {}

  void body(const Body& b, bool soft) {
    for (const auto& s : b) stmt(*s, soft);
  }

 private:
  void stmt(const Stmt& s, bool soft) {
    switch (s.kind) {
      case Stmt::Kind::If:
        for (const auto& c : s.conditions) expr(c.get(), true);
        for (const auto& b : s.bodies) body(b, true);
        body(s.else_body, true);
        return;
      case Stmt::Kind::For:
        expr(s.expr.get(), soft);
        expr(s.condition.get(), false);
        body(s.body, false);
        body(s.else_body, false);
        return;
      case Stmt::Kind::CallBlock:
        expr(s.expr.get(), soft);
        for (const auto& p : s.params) expr(p.default_value.get(), false);
        body(s.body, false);
        return;
      case Stmt::Kind::Macro:
        for (const auto& p : s.params) expr(p.default_value.get(), false);
        body(s.body, false);
        return;
      case Stmt::Kind::With:
        for (const auto& v : s.values) expr(v.get(), false);
        body(s.body, false);
        return;
      case Stmt::Kind::SetBlock:
      case Stmt::Kind::FilterBlock:
        expr(s.expr.get(), false);
        body(s.body, false);
        return;
      case Stmt::Kind::Scope:
        body(s.body, soft);
        return;
      default:
        expr(s.expr.get(), soft);
        return;
    }
  }

  void expr(const Expr* e, bool soft) {
    if (!e) return;
    if (e->kind == Expr::Kind::CondExpr) soft = true;
    if (!soft && e->kind == Expr::Kind::Filter && !is_known_filter(e->name))
      fail("{}: no filter named '{}'", describe_position(src_, e->offset), e->name);
    if (!soft && e->kind == Expr::Kind::Test && !is_known_test(e->name))
      fail("{}: no test named '{}'", describe_position(src_, e->offset), e->name);
    expr(e->object.get(), soft);
    for (const auto& i : e->items) expr(i.get(), soft);
    for (const auto& kw : e->kwargs) expr(kw.second.get(), soft);
  }

  const std::string& src_;
};

}  // namespace

Body parse_template(const std::string& source) {
  Parser parser(source, tokenize_template(source));
  Body body = parser.parse_all();
  FilterChecker(source).body(body, false);
  return body;
}

}  // namespace dragon::chat::jinja
