// Tree-walking interpreter. Scoping follows what jinja2 compiles templates to:
//  - the top level writes to the template context; {% if %} opens no scope;
//  - every for-loop iteration gets a fresh scope (a {% set %} inside is gone next iteration);
//  - macros see the scope they were defined in (lexically), plus their parameters, `caller`,
//    `varargs` and `kwargs`; assignments inside stay inside.
#include "chat/jinja_interpreter.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <unordered_map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_lexer.h"
#include "util/error.h"

namespace dragon::chat::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;

  const Value* lookup(const std::string& name) const {
    for (const Frame* f = this; f; f = f->parent.get()) {
      auto it = f->vars.find(name);
      if (it != f->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using FramePtr = std::shared_ptr<Frame>;

enum class Flow { Normal, Break, Continue };

bool mentions_name(const Expr* e, const std::string& name);
bool mentions_name(const Body& body, const std::string& name) {
  for (const auto& s : body) {
    if (mentions_name(s->expr.get(), name) || mentions_name(s->condition.get(), name)) return true;
    for (const auto& c : s->conditions) if (mentions_name(c.get(), name)) return true;
    for (const auto& v : s->values) if (mentions_name(v.get(), name)) return true;
    for (const auto& p : s->params) if (mentions_name(p.default_value.get(), name)) return true;
    for (const auto& b : s->bodies) if (mentions_name(b, name)) return true;
    if (mentions_name(s->body, name) || mentions_name(s->else_body, name)) return true;
  }
  return false;
}
bool mentions_name(const Expr* e, const std::string& name) {
  if (!e) return false;
  if (e->kind == Expr::Kind::Name && e->name == name) return true;
  if (mentions_name(e->object.get(), name)) return true;
  for (const auto& i : e->items) if (mentions_name(i.get(), name)) return true;
  for (const auto& kw : e->kwargs) if (mentions_name(kw.second.get(), name)) return true;
  return false;
}

class Interpreter {
 public:
  Interpreter(const std::string& source, const RenderLimits& limits) : source_(source), limits_(limits) {
    builtins_.apply_filter = [this](const std::string& f, Value in, CallArgs& a) { return filter(f, std::move(in), a); };
    builtins_.apply_test = [this](const std::string& t, const Value& in, CallArgs& a) { return test(t, in, a); };
    builtins_.call = [this](const Value& c, CallArgs& a) { return call(c, a); };
    install_globals();
  }
  // Macros and recursive loops are closures over the frame they were defined in, and that frame
  // (or a namespace / list in it) usually holds the macro: a shared_ptr cycle that would leak
  // the frame and every context value (the whole conversation) on each render. Nothing of a
  // render outlives it but the output text, so the closures are cut here.
  ~Interpreter() {
    for (const auto& weak : closures_)
      if (auto fn = weak.lock()) fn->fn = nullptr;
  }

  std::string render(const Body& body, const std::map<std::string, Value>& variables) {
    auto root = std::make_shared<Frame>();
    for (const auto& [k, v] : variables) root->vars[k] = v;
    std::string out;
    try {
      exec_body(body, root, out);
    } catch (const TemplateRaised& e) {
      fail("chat template raised an error at {}: {}", describe_position(source_, offset_), e.what());
    } catch (const Error& e) {
      fail("chat template: {}: {}", describe_position(source_, offset_), e.what());
    }
    return out;
  }

 private:
  void remember_closure(const std::shared_ptr<Callable>& fn) {
    // A macro defined inside a long loop makes one closure per iteration: forget the dead ones
    // now and then so that this list stays as small as the live closures.
    if (closures_.size() >= 2 * closures_live_ + 64) {
      std::erase_if(closures_, [](const std::weak_ptr<Callable>& w) { return w.expired(); });
      closures_live_ = closures_.size();
    }
    closures_.push_back(fn);
  }

  // ---------------- output ----------------
  void write(std::string& out, std::string_view text) {
    if (out.size() + text.size() > limits_.max_output_bytes)
      fail("rendered output exceeds {} bytes", limits_.max_output_bytes);
    total_bytes_ += text.size();
    if (total_bytes_ > limits_.max_total_bytes) fail("template produced more than {} bytes in total", limits_.max_total_bytes);
    out.append(text);
  }

  void check_size(size_t n) const {
    if (n > limits_.max_output_bytes) fail("value of {} bytes/items exceeds the limit of {}", n, limits_.max_output_bytes);
  }

  // ---------------- statements ----------------
  Flow exec_body(const Body& body, const FramePtr& frame, std::string& out) {
    for (const auto& s : body) {
      const Flow f = exec(*s, frame, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Stmt& s, const FramePtr& frame, std::string& out) {
    offset_ = s.offset;
    switch (s.kind) {
      case Stmt::Kind::Text: write(out, s.text); return Flow::Normal;
      case Stmt::Kind::Print: {
        const Value v = eval(*s.expr, frame);
        if (v.is_string()) write(out, v.as_string());
        else write(out, v.str());
        return Flow::Normal;
      }
      case Stmt::Kind::If:
        for (size_t k = 0; k < s.conditions.size(); ++k)
          if (eval(*s.conditions[k], frame).truthy()) return exec_body(s.bodies[k], frame, out);
        return exec_body(s.else_body, frame, out);
      case Stmt::Kind::For: {
        Value iterable = eval(*s.expr, frame);
        run_loop(s, frame, iterable, 0, out);
        return Flow::Normal;
      }
      case Stmt::Kind::Set: assign(s.target, eval(*s.expr, frame), frame); return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        std::string captured;
        exec_body(s.body, std::make_shared<Frame>(Frame{{}, frame}), captured);
        Value v(std::move(captured));
        if (s.expr) v = apply_filter_chain(*s.expr, std::move(v), frame);
        assign(s.target, std::move(v), frame);
        return Flow::Normal;
      }
      case Stmt::Kind::Macro: frame->vars[s.name] = make_macro(s, frame, nullptr); return Flow::Normal;
      case Stmt::Kind::CallBlock: {
        // The call's body becomes `caller`, a macro the called macro can invoke.
        Value caller = make_macro(s, frame, nullptr, "caller");
        const Expr& call_expr = *s.expr;
        Value callee = eval(*call_expr.object, frame);
        CallArgs args = eval_args(call_expr, frame);
        args.keyword.emplace_back("caller", caller);
        Value result = call(callee, args);
        write(out, result.str());
        return Flow::Normal;
      }
      case Stmt::Kind::FilterBlock: {
        std::string captured;
        exec_body(s.body, std::make_shared<Frame>(Frame{{}, frame}), captured);
        write(out, apply_filter_chain(*s.expr, Value(std::move(captured)), frame).str());
        return Flow::Normal;
      }
      case Stmt::Kind::With: {
        auto inner = std::make_shared<Frame>(Frame{{}, frame});
        for (size_t k = 0; k < s.targets.size(); ++k) assign(s.targets[k], eval(*s.values[k], frame), inner);
        return exec_body(s.body, inner, out);
      }
      case Stmt::Kind::Break: return Flow::Break;
      case Stmt::Kind::Continue: return Flow::Continue;
      case Stmt::Kind::Scope: return exec_body(s.body, frame, out);
    }
    return Flow::Normal;
  }

  // Applies a filter chain parsed with a null innermost object to `input`.
  Value apply_filter_chain(const Expr& chain, Value input, const FramePtr& frame) {
    if (!chain.object) {
      CallArgs args = eval_args(chain, frame);
      return filter(chain.name, std::move(input), args);
    }
    Value inner = apply_filter_chain(*chain.object, std::move(input), frame);
    CallArgs args = eval_args(chain, frame);
    return filter(chain.name, std::move(inner), args);
  }

  void assign(const Target& t, Value v, const FramePtr& frame) {
    if (!t.attribute.empty()) {
      const Value* ns = frame->lookup(t.names[0]);
      if (!ns || !ns->is_dict() || ns->as_dict().flavor != Dict::Flavor::Namespace)
        fail("cannot assign attribute on non-namespace object '{}'", t.names[0]);
      ns->as_dict().set(Value(t.attribute), std::move(v));
      return;
    }
    if (!t.is_tuple) {
      frame->vars[t.names[0]] = std::move(v);
      return;
    }
    std::vector<Value> items = v.iterate();
    if (items.size() != t.names.size())
      fail("cannot unpack {} values into {} names", items.size(), t.names.size());
    for (size_t k = 0; k < items.size(); ++k) frame->vars[t.names[k]] = std::move(items[k]);
  }

  void run_loop(const Stmt& s, const FramePtr& frame, const Value& iterable, int depth, std::string& out) {
    std::vector<Value> items;
    if (iterable.is_dict() && !iterable.is_plain_dict()) fail("'{}' object is not iterable", iterable.type_name());
    if (iterable.is_none() || iterable.is_number() || iterable.is_callable())
      fail("'{}' object is not iterable", iterable.type_name());
    items = iterable.iterate();
    if (s.condition) {  // {% for x in xs if cond %}: filter first, so loop.length counts only kept items
      std::vector<Value> kept;
      for (auto& item : items) {
        auto f = std::make_shared<Frame>(Frame{{}, frame});
        assign(s.target, item, f);
        if (eval(*s.condition, f).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(s.else_body, frame, out);
      return;
    }
    const int64_t n = int64_t(items.size());
    Value loop_call;
    if (s.recursive) {
      auto fn = std::make_shared<Callable>();
      fn->name = "loop";
      fn->fn = [this, &s, frame, depth](CallArgs& a) -> Value {
        if (a.positional.size() != 1) fail("loop() takes exactly one argument");
        enter_call();
        std::string nested;
        run_loop(s, frame, a.positional[0], depth + 1, nested);
        leave_call();
        return Value(std::move(nested));
      };
      remember_closure(fn);
      loop_call = Value(fn);
    }
    auto cycle = std::make_shared<Callable>();
    cycle->name = "loop.cycle";
    auto index_holder = std::make_shared<int64_t>(0);
    cycle->fn = [index_holder](CallArgs& a) -> Value {
      if (a.positional.empty()) fail("no items for cycling given");
      return a.positional[size_t(*index_holder % int64_t(a.positional.size()))];
    };
    const Value cycle_value(cycle);
    for (int64_t i = 0; i < n; ++i) {
      if (++iterations_ > limits_.max_loop_iterations) fail("more than {} loop iterations", limits_.max_loop_iterations);
      *index_holder = i;
      auto iter_frame = std::make_shared<Frame>(Frame{{}, frame});
      assign(s.target, items[size_t(i)], iter_frame);
      auto loop = std::make_shared<Dict>();
      loop->flavor = Dict::Flavor::Loop;
      auto& e = loop->entries;
      e.reserve(14);
      e.emplace_back(Value("index"), Value(i + 1));
      e.emplace_back(Value("index0"), Value(i));
      e.emplace_back(Value("revindex"), Value(n - i));
      e.emplace_back(Value("revindex0"), Value(n - i - 1));
      e.emplace_back(Value("first"), Value(i == 0));
      e.emplace_back(Value("last"), Value(i == n - 1));
      e.emplace_back(Value("length"), Value(n));
      e.emplace_back(Value("depth"), Value(int64_t(depth + 1)));
      e.emplace_back(Value("depth0"), Value(int64_t(depth)));
      e.emplace_back(Value("previtem"), i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item"));
      e.emplace_back(Value("nextitem"), i + 1 < n ? items[size_t(i + 1)] : Value::undefined("there is no next item"));
      e.emplace_back(Value("cycle"), cycle_value);
      if (s.recursive) e.emplace_back(Value("__call__"), loop_call);
      iter_frame->vars["loop"] = Value(loop);
      const Flow f = exec_body(s.body, iter_frame, out);
      if (f == Flow::Break) break;
    }
  }

  void enter_call() {
    if (++call_depth_ > limits_.max_call_depth) fail("recursion deeper than {} calls", limits_.max_call_depth);
  }
  void leave_call() { --call_depth_; }

  // A macro (or the body of a {% call %} block, named "caller") as a callable value.
  Value make_macro(const Stmt& s, const FramePtr& defining_frame, const Value* unused, const std::string& name = {}) {
    (void)unused;
    auto fn = std::make_shared<Callable>();
    remember_closure(fn);
    fn->name = name.empty() ? s.name : name;
    const bool takes_varargs = mentions_name(s.body, "varargs");
    const bool takes_kwargs = mentions_name(s.body, "kwargs");
    const bool takes_caller = mentions_name(s.body, "caller");
    fn->fn = [this, &s, defining_frame, takes_varargs, takes_kwargs, takes_caller, macro_name = fn->name](CallArgs& a) -> Value {
      enter_call();
      auto frame = std::make_shared<Frame>(Frame{{}, defining_frame});
      const size_t n = s.params.size();
      std::vector<bool> bound(n, false);
      std::vector<Value> varargs;
      for (size_t k = 0; k < a.positional.size(); ++k) {
        if (k < n) {
          frame->vars[s.params[k].name] = a.positional[k];
          bound[k] = true;
        } else if (takes_varargs) {
          varargs.push_back(a.positional[k]);
        } else {
          fail("macro '{}' takes not more than {} argument(s)", macro_name, n);
        }
      }
      auto kwargs = std::make_shared<Dict>();
      for (auto& [key, v] : a.keyword) {
        size_t k = 0;
        while (k < n && s.params[k].name != key) ++k;
        if (k < n) {
          if (bound[k]) fail("macro '{}' got multiple values for argument '{}'", macro_name, key);
          frame->vars[key] = v;
          bound[k] = true;
        } else if (key == "caller" && takes_caller) {
          frame->vars["caller"] = v;
        } else if (takes_kwargs) {
          kwargs->set(Value(key), v);
        } else {
          fail("macro '{}' takes no keyword argument '{}'", macro_name, key);
        }
      }
      for (size_t k = 0; k < n; ++k) {
        if (bound[k]) continue;
        frame->vars[s.params[k].name] = s.params[k].default_value
                                            ? eval(*s.params[k].default_value, frame)
                                            : Value::undefined(fmt::format("parameter '{}' was not provided", s.params[k].name));
      }
      if (takes_varargs) frame->vars["varargs"] = Value::tuple(std::move(varargs));
      if (takes_kwargs) frame->vars["kwargs"] = Value(kwargs);
      std::string out;
      exec_body(s.body, frame, out);
      leave_call();
      return Value(std::move(out));
    };
    return Value(fn);
  }

  // ---------------- expressions ----------------
  Value eval(const Expr& e, const FramePtr& frame) {
    const size_t saved = offset_;
    offset_ = e.offset;
    Value v = eval_inner(e, frame);
    offset_ = saved;
    return v;
  }

  Value lookup(const std::string& name, const FramePtr& frame) const {
    if (const Value* v = frame->lookup(name)) return *v;
    auto it = globals_.find(name);
    if (it != globals_.end()) return it->second;
    return Value::undefined(fmt::format("'{}' is undefined", name));
  }

  CallArgs eval_args(const Expr& e, const FramePtr& frame) {
    CallArgs args;
    args.positional.reserve(e.items.size());
    for (const auto& i : e.items) args.positional.push_back(eval(*i, frame));
    for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v, frame));
    return args;
  }

  Value eval_inner(const Expr& e, const FramePtr& frame) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.value;
      case Expr::Kind::Name: return lookup(e.name, frame);
      case Expr::Kind::ListLit:
      case Expr::Kind::TupleLit: {
        std::vector<Value> items;
        items.reserve(e.items.size());
        for (const auto& i : e.items) items.push_back(eval(*i, frame));
        return e.kind == Expr::Kind::ListLit ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case Expr::Kind::DictLit: {
        auto d = std::make_shared<Dict>();
        for (size_t k = 0; k + 1 < e.items.size(); k += 2) {
          Value key = eval(*e.items[k], frame);
          if (key.is_list() && !key.is_tuple()) fail("unhashable type: 'list'");
          if (key.is_dict()) fail("unhashable type: 'dict'");
          d->set(key, eval(*e.items[k + 1], frame));
        }
        return Value(d);
      }
      case Expr::Kind::Attr: return get_attribute(eval(*e.object, frame), e.name);
      case Expr::Kind::Item: return get_item(eval(*e.object, frame), eval(*e.items[0], frame));
      case Expr::Kind::Slice: {
        Value obj = eval(*e.object, frame);
        Value parts[3];
        for (int k = 0; k < 3; ++k)
          if (e.items[size_t(k)]) parts[k] = eval(*e.items[size_t(k)], frame);
        return slice_value(obj, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::Call: {
        Value callee = eval(*e.object, frame);
        CallArgs args = eval_args(e, frame);
        return call(callee, args);
      }
      case Expr::Kind::Filter: {
        Value input = e.object ? eval(*e.object, frame) : Value();
        CallArgs args = eval_args(e, frame);
        return filter(e.name, std::move(input), args);
      }
      case Expr::Kind::Test: {
        Value input = eval(*e.object, frame);
        CallArgs args = eval_args(e, frame);
        const bool r = test(e.name, input, args);
        return Value(e.negated ? !r : r);
      }
      case Expr::Kind::Not: return Value(!eval(*e.object, frame).truthy());
      case Expr::Kind::Neg: {
        Value v = eval(*e.object, frame);
        if (v.is_float()) return Value(-v.as_double());
        if (v.is_int() || v.is_bool()) {
          if (v.as_int() == INT64_MIN) fail("integer overflow");
          return Value(-v.as_int());
        }
        fail_operand("bad operand type for unary -: '{}'", v);
      }
      case Expr::Kind::Pos: {
        Value v = eval(*e.object, frame);
        if (v.is_bool()) return Value(v.as_int());
        if (v.is_number()) return v;
        fail_operand("bad operand type for unary +: '{}'", v);
      }
      case Expr::Kind::And: {
        Value l = eval(*e.items[0], frame);
        return l.truthy() ? eval(*e.items[1], frame) : l;
      }
      case Expr::Kind::Or: {
        Value l = eval(*e.items[0], frame);
        return l.truthy() ? l : eval(*e.items[1], frame);
      }
      case Expr::Kind::CondExpr: {
        if (eval(*e.items[1], frame).truthy()) return eval(*e.items[0], frame);
        if (e.items[2]) return eval(*e.items[2], frame);
        return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
      }
      case Expr::Kind::Compare: {
        Value left = eval(*e.items[0], frame);
        for (size_t k = 0; k < e.ops.size(); ++k) {
          Value right = eval(*e.items[k + 1], frame);
          if (!compare(e.ops[k], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case Expr::Kind::Binary: return binary(e.name, eval(*e.items[0], frame), eval(*e.items[1], frame));
    }
    fail("unknown expression");
  }

  [[noreturn]] static void fail_operand(const char* what, const Value& v) {
    if (v.is_undefined()) fail("{}", v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
    fail(fmt::runtime(what), v.type_name());
  }

  static void require_defined(const Value& v) {
    if (v.is_undefined()) fail("{}", v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
  }

  bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
      case Value::Kind::String:
        if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
        return container.as_string().find(item.as_string()) != std::string::npos;
      case Value::Kind::List:
        for (const auto& v : container.iterate())
          if (v.equals(item)) return true;
        return false;
      case Value::Kind::Dict:
        if (!container.is_plain_dict()) fail("argument of type '{}' is not iterable", container.type_name());
        return container.as_dict().find(item) != nullptr;
      case Value::Kind::Undefined: return false;
      default: fail("argument of type '{}' is not iterable", container.type_name());
    }
  }

  bool compare(const std::string& op, const Value& l, const Value& r) {
    if (op == "==") return l.equals(r);
    if (op == "!=") return !l.equals(r);
    if (op == "in") return contains(r, l);
    if (op == "notin") return !contains(r, l);
    const int c = l.compare(r);
    if (op == "<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == ">") return c > 0;
    return c >= 0;
  }

  // Checked int64 arithmetic (Python ints do not overflow; we refuse rather than wrap).
  template <typename Op>
  static Value int_result(Op op, int64_t a, int64_t b) {
    int64_t out = 0;
    if (op(a, b, &out)) fail("integer overflow");
    return Value(out);
  }

  Value repeat(const Value& seq, int64_t times) {
    if (times < 0) times = 0;
    if (seq.is_string()) {
      check_size(seq.as_string().size() * size_t(times));
      std::string out;
      out.reserve(seq.as_string().size() * size_t(times));
      for (int64_t k = 0; k < times; ++k) out += seq.as_string();
      return Value(std::move(out));
    }
    const auto& items = seq.as_list().items;
    check_size(items.size() * size_t(times));
    std::vector<Value> out;
    for (int64_t k = 0; k < times; ++k) out.insert(out.end(), items.begin(), items.end());
    return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
  }

  Value binary(const std::string& op, const Value& l, const Value& r) {
    if (op == "~") {
      std::string s = l.str();
      s += r.str();
      check_size(s.size());
      return Value(std::move(s));
    }
    require_defined(l);
    require_defined(r);
    const bool nums = l.is_number() && r.is_number();
    const bool floats = nums && (l.is_float() || r.is_float());
    if (op == "+") {
      if (nums) return floats ? Value(l.as_double() + r.as_double()) : int_result([](int64_t a, int64_t b, int64_t* o) { return __builtin_add_overflow(a, b, o); }, l.as_int(), r.as_int());
      if (l.is_string() && r.is_string()) {
        check_size(l.as_string().size() + r.as_string().size());
        return Value(l.as_string() + r.as_string());
      }
      if (l.is_list() && r.is_list() && l.is_tuple() == r.is_tuple() && !l.is_generator() && !r.is_generator()) {
        check_size(l.as_list().items.size() + r.as_list().items.size());
        std::vector<Value> items = l.as_list().items;
        items.insert(items.end(), r.as_list().items.begin(), r.as_list().items.end());
        return l.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
      }
      if (l.is_string()) fail("can only concatenate str (not \"{}\") to str", r.type_name());
      if (l.is_list()) fail("can only concatenate {} (not \"{}\") to {}", l.type_name(), r.type_name(), l.type_name());
    } else if (op == "-") {
      if (nums) return floats ? Value(l.as_double() - r.as_double()) : int_result([](int64_t a, int64_t b, int64_t* o) { return __builtin_sub_overflow(a, b, o); }, l.as_int(), r.as_int());
    } else if (op == "*") {
      if (nums) return floats ? Value(l.as_double() * r.as_double()) : int_result([](int64_t a, int64_t b, int64_t* o) { return __builtin_mul_overflow(a, b, o); }, l.as_int(), r.as_int());
      if ((l.is_string() || (l.is_list() && !l.is_generator())) && (r.is_int() || r.is_bool())) return repeat(l, r.as_int());
      if ((r.is_string() || (r.is_list() && !r.is_generator())) && (l.is_int() || l.is_bool())) return repeat(r, l.as_int());
    } else if (op == "/") {
      if (nums) {
        if (r.as_double() == 0) fail("division by zero");
        return Value(l.as_double() / r.as_double());
      }
    } else if (op == "//" || op == "%") {
      if (nums) {
        if (r.as_double() == 0) fail("{}", op == "//" ? "integer division or modulo by zero" : "modulo by zero");
        if (floats) {
          // CPython's float_divmod.
          const double a = l.as_double(), b = r.as_double();
          double mod = std::fmod(a, b);
          double div = (a - mod) / b;
          if (mod != 0) {
            if ((b < 0) != (mod < 0)) {
              mod += b;
              div -= 1.0;
            }
          } else {
            mod = std::copysign(0.0, b);
          }
          if (op == "%") return Value(mod);
          double floordiv = std::copysign(0.0, a / b);
          if (div != 0) {
            floordiv = std::floor(div);
            if (div - floordiv > 0.5) floordiv += 1.0;
          }
          return Value(floordiv);
        }
        const int64_t a = l.as_int(), b = r.as_int();
        if (a == INT64_MIN && b == -1) fail("integer overflow");
        int64_t q = a / b, m = a % b;
        if (m != 0 && ((m < 0) != (b < 0))) {
          --q;
          m += b;
        }
        return Value(op == "//" ? q : m);
      }
      if (op == "%" && l.is_string()) {
        CallArgs args;
        if (r.is_tuple()) args.positional = r.as_list().items;
        else args.positional.push_back(r);
        return filter("format", l, args);
      }
    } else if (op == "**") {
      if (nums) {
        if (!floats && r.as_int() >= 0) {
          int64_t base = l.as_int(), result = 1;
          for (int64_t k = 0; k < r.as_int(); ++k) {
            if (__builtin_mul_overflow(result, base, &result)) fail("integer overflow");
            if (result == 0 || result == 1) break;
          }
          return Value(result);
        }
        return Value(std::pow(l.as_double(), r.as_double()));
      }
    }
    fail("unsupported operand type(s) for {}: '{}' and '{}'", op, l.type_name(), r.type_name());
  }

  Value call(const Value& callee, CallArgs& args) {
    if (callee.is_callable()) return callee.as_callable().fn(args);
    if (callee.is_dict() && callee.as_dict().flavor == Dict::Flavor::Loop) {
      if (const Value* c = callee.as_dict().find(std::string_view("__call__"))) return c->as_callable().fn(args);
      fail("loop is not recursive: add 'recursive' to the for tag");
    }
    if (callee.is_undefined()) fail("{}", callee.undefined_hint().empty() ? "undefined value is not callable" : callee.undefined_hint());
    fail("'{}' object is not callable", callee.type_name());
  }

  Value filter(const std::string& name, Value input, CallArgs& args) { return apply_filter(builtins_, name, std::move(input), args); }
  bool test(const std::string& name, const Value& input, CallArgs& args) { return apply_test(builtins_, name, input, args); }

  // ---------------- globals ----------------
  void add_global(const std::string& name, std::function<Value(CallArgs&)> fn) {
    auto c = std::make_shared<Callable>();
    c->name = name;
    c->fn = std::move(fn);
    globals_[name] = Value(c);
  }

  void install_globals() {
    add_global("raise_exception", [](CallArgs& a) -> Value {
      throw TemplateRaised(a.positional.empty() ? std::string() : a.positional[0].str());
    });
    add_global("strftime_now", [](CallArgs& a) -> Value {
      const std::string format = a.get(0, "format").str();
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buf[512];
      const size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
      return Value(std::string(buf, n));
    });
    add_global("range", [](CallArgs& a) -> Value {
      int64_t start = 0, stop = 0, step = 1;
      for (const auto& v : a.positional)
        if (!v.is_int() && !v.is_bool()) fail("'{}' object cannot be interpreted as an integer", v.type_name());
      if (a.positional.size() == 1) {
        stop = a.positional[0].as_int();
      } else if (a.positional.size() >= 2) {
        start = a.positional[0].as_int();
        stop = a.positional[1].as_int();
        if (a.positional.size() >= 3) step = a.positional[2].as_int();
      } else {
        fail("range expected at least 1 argument, got 0");
      }
      if (step == 0) fail("range() arg 3 must not be zero");
      std::vector<Value> out;
      for (int64_t v = start; step > 0 ? v < stop : v > stop; v += step) {
        if (int64_t(out.size()) >= kMaxRange) fail("range too big, maximum size for range is {}", kMaxRange);
        out.emplace_back(v);
      }
      return Value::list(std::move(out));
    });
    add_global("namespace", [](CallArgs& a) -> Value {
      auto d = std::make_shared<Dict>();
      d->flavor = Dict::Flavor::Namespace;
      for (const auto& p : a.positional) {
        if (!p.is_plain_dict()) fail("namespace() positional argument must be a dict");
        for (const auto& [k, v] : p.as_dict().entries) d->set(k, v);
      }
      for (const auto& [k, v] : a.keyword) d->set(Value(k), v);
      return Value(d);
    });
    add_global("dict", [](CallArgs& a) -> Value {
      auto d = std::make_shared<Dict>();
      for (const auto& p : a.positional) {
        if (!p.is_plain_dict()) fail("dict() positional argument must be a dict");
        for (const auto& [k, v] : p.as_dict().entries) d->set(k, v);
      }
      for (const auto& [k, v] : a.keyword) d->set(Value(k), v);
      return Value(d);
    });
    add_global("joiner", [](CallArgs& a) -> Value {
      const std::string sep = a.get(0, "sep", Value(", ")).str();
      auto used = std::make_shared<bool>(false);
      auto c = std::make_shared<Callable>();
      c->name = "joiner";
      c->fn = [sep, used](CallArgs&) -> Value {
        if (!*used) {
          *used = true;
          return Value("");
        }
        return Value(sep);
      };
      return Value(c);
    });
  }

  const std::string& source_;
  RenderLimits limits_;
  BuiltinContext builtins_;
  std::unordered_map<std::string, Value> globals_;
  size_t offset_ = 0;
  int call_depth_ = 0;
  uint64_t iterations_ = 0;
  uint64_t total_bytes_ = 0;
  std::vector<std::weak_ptr<Callable>> closures_;  // every closure over a frame (see ~Interpreter)
  size_t closures_live_ = 0;
};

}  // namespace

std::string render_template(const std::string& source, const Body& body, const std::map<std::string, Value>& variables,
                            const RenderLimits& limits) {
  Interpreter interpreter(source, limits);
  return interpreter.render(body, variables);
}

}  // namespace dragon::chat::jinja
