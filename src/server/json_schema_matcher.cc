#include "server/json_schema_matcher.h"

#include <algorithm>

namespace dragon {

namespace {

constexpr int64_t kInfinite = int64_t{1} << 40;
// Digits of a number's integer or fraction part: a random model would otherwise write numbers
// no double holds (valid JSON, but useless and slow).
constexpr uint8_t kMaxDigits = 16;

bool is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

enum ObjectState : uint8_t { KeyOrClose, Key, InKey, Colon, ObjInValue, ObjCommaOrClose };
enum ArrayState : uint8_t { ValueOrClose, Value, ArrInValue, ArrCommaOrClose };
// LowBackslash / LowU: after a high surrogate \uD800-\uDBFF, its low half \uDC00-\uDFFF must follow.
enum StringState : uint8_t { Chars, Escape, Unicode, LowBackslash, LowU };
enum SurrogateFlags : uint8_t { FirstDigitD = 1, HighSurrogate = 2, LowRequired = 4 };
enum NumState : uint8_t { Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpInt };

bool number_can_end(uint8_t s) { return s == Zero || s == Int || s == Frac || s == ExpInt; }

}  // namespace

SchemaMatcher::SchemaMatcher(std::shared_ptr<const JsonSchema> schema) : schema_(std::move(schema)) {
  Thread t;
  Frame f;
  f.kind = Kind::Expect;
  f.node = schema_->root();
  t.stack.push_back(f);
  threads_.push_back(std::move(t));
}

bool SchemaMatcher::push(unsigned char c) {
  std::vector<Thread> forks;
  size_t live = 0;
  for (size_t i = 0; i < threads_.size(); ++i) {
    Thread& t = threads_[i];
    if (!is_ws(c)) t.ws_run = 0;
    if (feed(t, c, forks)) {
      if (live != i) threads_[live] = std::move(t);
      ++live;
    }
  }
  threads_.resize(live);
  for (auto& f : forks) {
    if (threads_.size() >= kMaxThreads) break;  // the survivors are still valid readings
    threads_.push_back(std::move(f));
  }
  return !threads_.empty();
}

bool SchemaMatcher::push(std::string_view bytes) {
  for (char c : bytes)
    if (!push(static_cast<unsigned char>(c))) return false;
  return true;
}

bool SchemaMatcher::feed(Thread& t, unsigned char c, std::vector<Thread>& forks) const {
  if (t.done) return is_ws(c) && ws(t, c);
  switch (t.stack.back().kind) {
    case Kind::Expect:
      if (!is_ws(c)) return start_value(t, c, forks);
      return t.stack.size() > 1 && ws(t, c);  // the document itself starts with its value
    case Kind::Object: return feed_object(t, c, forks);
    case Kind::Array: return feed_array(t, c, forks);
    case Kind::String: return feed_string(t, c);
    case Kind::Key: return feed_key(t, c);
    case Kind::Number: return feed_number(t, c, forks);
    case Kind::Literal: return feed_literal(t, c, forks);
  }
  return false;
}

// The top frame is Expect{node}; `c` is the value's first byte.
bool SchemaMatcher::start_value(Thread& t, unsigned char c, std::vector<Thread>& forks) const {
  const int32_t id = t.stack.back().node;
  const SchemaNode& n = schema_->node(id);
  Frame f;
  f.node = id;
  switch (n.kind) {
    case SchemaNode::Kind::AnyOf: {
      // Each branch reads the text its own way: the first that fits continues this thread,
      // the others become threads of their own.
      const Thread base = t;
      bool ok = false;
      for (int32_t alt : n.alternatives) {
        Thread branch = base;
        branch.stack.back().node = alt;
        std::vector<Thread> sub;
        if (start_value(branch, c, sub)) {
          if (!ok) t = std::move(branch);
          else forks.push_back(std::move(branch));
          ok = true;
        }
        for (auto& s : sub) forks.push_back(std::move(s));
      }
      return ok;
    }
    case SchemaNode::Kind::Any: {
      int32_t target = -1;
      if (c == '{') target = JsonSchema::kAnyObject;
      else if (c == '[') target = JsonSchema::kAnyArray;
      else if (c == '"') target = JsonSchema::kAnyString;
      else if (c == '-' || is_digit(c)) target = JsonSchema::kAnyNumber;
      else if (c == 't' || c == 'f' || c == 'n') target = JsonSchema::kAnyLiteral;
      if (target < 0) return false;
      t.stack.back().node = target;
      return start_value(t, c, forks);
    }
    case SchemaNode::Kind::Object:
      if (c != '{') return false;
      f.kind = Kind::Object;
      f.state = KeyOrClose;
      break;
    case SchemaNode::Kind::Array:
      if (c != '[') return false;
      f.kind = Kind::Array;
      f.state = ValueOrClose;
      break;
    case SchemaNode::Kind::String:
      if (c != '"') return false;
      f.kind = Kind::String;
      f.state = Chars;
      f.lo = 0x80;
      f.hi = 0xBF;
      break;
    case SchemaNode::Kind::Number:
    case SchemaNode::Kind::Integer:
      f.kind = Kind::Number;
      if (c == '-') f.state = Minus;
      else if (c == '0') f.state = Zero;
      else if (is_digit(c)) f.state = Int;
      else return false;
      f.aux = c == '-' ? 0 : 1;
      break;
    case SchemaNode::Kind::Literal:
      f.kind = Kind::Literal;
      f.lo = 0;
      f.hi = int32_t(n.literals.size());
      t.stack.back() = f;
      return feed_literal(t, c, forks);
  }
  t.stack.back() = f;
  return true;
}

void SchemaMatcher::value_done(Thread& t) const {
  t.stack.pop_back();
  if (t.stack.empty()) {
    t.done = true;
    return;
  }
  Frame& parent = t.stack.back();
  parent.state = parent.kind == Kind::Object ? uint8_t(ObjCommaOrClose) : uint8_t(ArrCommaOrClose);
}

bool SchemaMatcher::object_may_close(const Frame& f) const {
  const auto& props = schema_->node(f.node).properties;
  for (size_t i = 0; i < props.size(); ++i)
    if (props[i].required && !(f.seen >> i & 1)) return false;
  return true;
}

bool SchemaMatcher::object_has_more_keys(const Frame& f) const {
  const SchemaNode& n = schema_->node(f.node);
  if (n.additional >= 0) return true;
  for (size_t i = 0; i < n.properties.size(); ++i)
    if (!(f.seen >> i & 1)) return true;
  return false;
}

bool SchemaMatcher::feed_object(Thread& t, unsigned char c, std::vector<Thread>& forks) const {
  Frame& f = t.stack.back();
  const SchemaNode& n = schema_->node(f.node);
  switch (f.state) {
    case KeyOrClose:
      if (c == '}') {
        if (!object_may_close(f)) return false;
        value_done(t);
        return true;
      }
      [[fallthrough]];
    case Key: {
      if (is_ws(c)) return ws(t, c);
      if (c != '"') return false;
      f.state = InKey;
      bool declared_left = false;
      for (size_t i = 0; i < n.properties.size(); ++i) declared_left |= !(f.seen >> i & 1);
      Frame free_key;
      free_key.kind = Kind::String;
      free_key.free_key = true;
      free_key.node = JsonSchema::kAnyString;
      free_key.lo = 0x80;
      free_key.hi = 0xBF;
      if (!declared_left) {
        if (n.additional < 0) return false;
        t.stack.push_back(free_key);
        return true;
      }
      if (n.additional >= 0) {
        // An undeclared name is another reading of the same text.
        Thread other = t;
        other.stack.push_back(free_key);
        forks.push_back(std::move(other));
      }
      Frame key;
      key.kind = Kind::Key;
      key.node = f.node;
      key.lo = 0;
      key.hi = int32_t(n.properties.size());
      t.stack.push_back(key);
      return true;
    }
    case Colon:
      if (is_ws(c)) return ws(t, c);
      if (c != ':') return false;
      f.state = ObjInValue;
      {
        Frame value;
        value.kind = Kind::Expect;
        value.node = f.value_node;
        t.stack.push_back(value);
      }
      return true;
    case ObjCommaOrClose:
      if (is_ws(c)) return ws(t, c);
      if (c == ',') {
        if (!object_has_more_keys(f)) return false;
        f.state = Key;
        return true;
      }
      if (c == '}' && object_may_close(f)) {
        value_done(t);
        return true;
      }
      return false;
    default:
      return false;  // InKey / InValue: a child frame is on top
  }
}

bool SchemaMatcher::feed_key(Thread& t, unsigned char c) const {
  Frame& k = t.stack.back();
  const Frame& object = t.stack[t.stack.size() - 2];
  const auto& props = schema_->node(k.node).properties;
  if (c == '"') {
    // The name ends: it must be exactly a declared name not written yet.
    for (int32_t i = k.lo; i < k.hi; ++i)
      if (int64_t(props[size_t(i)].key.size()) == k.count && !(object.seen >> i & 1)) {
        const int32_t value_node = props[size_t(i)].node;
        t.stack.pop_back();
        Frame& o = t.stack.back();
        o.seen |= uint64_t{1} << i;
        o.value_node = value_node;
        o.state = Colon;
        return true;
      }
  }
  int32_t lo = -1, hi = -1;
  bool unseen = false;
  for (int32_t i = k.lo; i < k.hi; ++i) {
    const std::string& key = props[size_t(i)].key;
    if (int64_t(key.size()) > k.count && static_cast<unsigned char>(key[size_t(k.count)]) == c) {
      if (lo < 0) lo = i;
      hi = i + 1;
      unseen |= !(object.seen >> i & 1);
    }
  }
  if (lo < 0 || !unseen) return false;
  k.lo = lo;
  k.hi = hi;
  ++k.count;
  return true;
}

bool SchemaMatcher::feed_string(Thread& t, unsigned char c) const {
  Frame& s = t.stack.back();
  const SchemaNode& n = schema_->node(s.node);
  const bool counted = n.min_length > 0 || n.max_length >= 0;  // uncounted strings keep one cache key
  switch (s.state) {
    case Chars:
      if (s.aux > 0) {  // inside a UTF-8 sequence: the next byte's range is [lo, hi]
        if (c < s.lo || c > s.hi) return false;
        --s.aux;
        s.lo = 0x80;
        s.hi = 0xBF;
        return true;
      }
      if (c == '"') {
        if (counted && s.count < n.min_length) return false;
        if (s.free_key) {
          t.stack.pop_back();
          Frame& o = t.stack.back();
          o.value_node = schema_->node(o.node).additional;
          o.state = Colon;
          return true;
        }
        value_done(t);
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (n.max_length >= 0 && s.count >= n.max_length) return false;
      if (c == '\\') {
        s.state = Escape;
      } else if (c >= 0x80) {
        // UTF-8 well-formedness (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
        if (c >= 0xC2 && c <= 0xDF) s.aux = 1;
        else if (c >= 0xE0 && c <= 0xEF) s.aux = 2;
        else if (c >= 0xF0 && c <= 0xF4) s.aux = 3;
        else return false;
        if (c == 0xE0) s.lo = 0xA0;
        if (c == 0xED) s.hi = 0x9F;
        if (c == 0xF0) s.lo = 0x90;
        if (c == 0xF4) s.hi = 0x8F;
      }
      if (counted) ++s.count;
      return true;
    case Escape:
      if (c == 'u') {
        s.state = Unicode;
        s.aux = 4;
        return true;
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        s.state = Chars;
        return true;
      }
      return false;
    case Unicode: {
      // Surrogates come in pairs: strict parsers refuse a lone half.
      if (!is_hex(c)) return false;
      const int digit = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
      const int position = 4 - s.aux;
      if (position == 0) {
        if ((s.surrogate & LowRequired) && digit != 0xD) return false;
        if (digit == 0xD) s.surrogate |= FirstDigitD;
      } else if (position == 1 && (s.surrogate & FirstDigitD)) {
        if (s.surrogate & LowRequired) {
          if (digit < 0xC) return false;
        } else if (digit >= 0xC) {
          return false;  // a low half with no high half before it
        } else if (digit >= 0x8) {
          s.surrogate |= HighSurrogate;
        }
      }
      if (--s.aux == 0) {
        s.state = (s.surrogate & HighSurrogate) ? LowBackslash : Chars;
        s.surrogate = 0;
      }
      return true;
    }
    case LowBackslash:
      if (c != '\\') return false;
      s.state = LowU;
      return true;
    case LowU:
      if (c != 'u') return false;
      s.state = Unicode;
      s.aux = 4;
      s.surrogate = LowRequired;
      return true;
  }
  return false;
}

bool SchemaMatcher::feed_number(Thread& t, unsigned char c, std::vector<Thread>& forks) const {
  Frame& f = t.stack.back();
  const bool integer = schema_->node(f.node).kind == SchemaNode::Kind::Integer;
  switch (f.state) {
    case Minus:
      if (c == '0') { f.state = Zero; f.aux = 1; return true; }
      if (is_digit(c)) { f.state = Int; f.aux = 1; return true; }
      return false;
    case Zero:
    case Int:
      if (is_digit(c) && f.state == Int) return ++f.aux <= kMaxDigits;
      if (!integer && c == '.') { f.state = Dot; f.aux = 0; return true; }
      if (!integer && (c == 'e' || c == 'E')) { f.state = Exp; return true; }
      break;
    case Dot:
      if (is_digit(c)) { f.state = Frac; f.aux = 1; return true; }
      return false;
    case Frac:
      if (is_digit(c)) return ++f.aux <= kMaxDigits;
      if (c == 'e' || c == 'E') { f.state = Exp; return true; }
      break;
    case Exp:
      if (c == '+' || c == '-') { f.state = ExpSign; return true; }
      [[fallthrough]];
    case ExpSign:
      if (is_digit(c)) { f.state = ExpInt; f.aux = 1; return true; }
      return false;
    case ExpInt:
      // Two exponent digits at most: 1e999 is valid JSON but overflows a double.
      if (is_digit(c)) return ++f.aux <= 2;
      break;
  }
  // The number ended; `c` belongs to what follows it.
  if (!number_can_end(f.state)) return false;
  value_done(t);
  return feed(t, c, forks);
}

bool SchemaMatcher::feed_literal(Thread& t, unsigned char c, std::vector<Thread>& forks) const {
  Frame& f = t.stack.back();
  const auto& lits = schema_->node(f.node).literals;
  // The candidates share the f.count bytes written; those that continue with `c` are a
  // contiguous run of the sorted list.
  int32_t lo = -1, hi = -1;
  for (int32_t i = f.lo; i < f.hi; ++i) {
    const std::string& l = lits[size_t(i)];
    if (int64_t(l.size()) > f.count && static_cast<unsigned char>(l[size_t(f.count)]) == c) {
      if (lo < 0) lo = i;
      hi = i + 1;
    }
  }
  if (lo >= 0) {
    f.lo = lo;
    f.hi = hi;
    ++f.count;
    // One candidate left, and complete: nothing can extend it, the value ends here.
    if (hi - lo == 1 && int64_t(lits[size_t(lo)].size()) == f.count) value_done(t);
    return true;
  }
  // `c` continues no candidate: the value ended before it if a candidate is complete (the
  // shortest sorts first).
  if (int64_t(lits[size_t(f.lo)].size()) != f.count) return false;
  value_done(t);
  return feed(t, c, forks);
}

bool SchemaMatcher::feed_array(Thread& t, unsigned char c, std::vector<Thread>& forks) const {
  Frame& f = t.stack.back();
  const SchemaNode& n = schema_->node(f.node);
  const auto start_item = [&]() {
    if (n.max_items >= 0 && f.count >= n.max_items) return false;
    ++f.count;
    f.state = ArrInValue;
    Frame item;
    item.kind = Kind::Expect;
    item.node = n.items;
    t.stack.push_back(item);
    return start_value(t, c, forks);
  };
  if (is_ws(c) && f.state != ArrInValue) return ws(t, c);
  switch (f.state) {
    case ValueOrClose:
      if (c == ']') {
        if (n.min_items > 0) return false;
        value_done(t);
        return true;
      }
      return start_item();
    case Value:
      return start_item();
    case ArrCommaOrClose:
      if (c == ',') {
        if (n.max_items >= 0 && f.count >= n.max_items) return false;
        f.state = Value;
        return true;
      }
      if (c == ']' && f.count >= n.min_items) {
        value_done(t);
        return true;
      }
      return false;
    default:
      return false;
  }
}

bool SchemaMatcher::thread_can_end(const Thread& t) const {
  if (t.done) return true;
  if (t.stack.size() != 1) return false;
  const Frame& f = t.stack.back();
  if (f.kind == Kind::Number) return number_can_end(f.state);
  if (f.kind == Kind::Literal) return int64_t(schema_->node(f.node).literals[size_t(f.lo)].size()) == f.count;
  return false;
}

bool SchemaMatcher::can_end() const {
  for (const auto& t : threads_)
    if (thread_can_end(t)) return true;
  return false;
}

bool SchemaMatcher::in_plain_string() const {
  for (const auto& t : threads_) {
    if (t.done) return false;
    const Frame& f = t.stack.back();
    if (f.kind != Kind::String || f.state != Chars || f.aux != 0) return false;
    const SchemaNode& n = schema_->node(f.node);
    if (n.min_length > 0 || n.max_length >= 0) return false;
  }
  return !threads_.empty();
}

bool SchemaMatcher::closed() const {
  for (const auto& t : threads_)
    if (t.done) return true;
  return false;
}

// `}` plus, for each required property not written yet, `,"key":` and its shortest value.
int64_t SchemaMatcher::object_rest(const Frame& f, uint64_t seen) const {
  int64_t rest = 1;
  const auto& props = schema_->node(f.node).properties;
  for (size_t i = 0; i < props.size(); ++i)
    if (props[i].required && !(seen >> i & 1)) rest += props[i].entry_len;
  return std::min(rest, kInfinite);
}

int64_t SchemaMatcher::thread_completion(const Thread& t) const {
  if (t.done) return 0;
  int64_t total = 0;
  const auto min_len = [&](int32_t node) { return schema_->node(node).min_len; };
  for (size_t i = 0; i < t.stack.size(); ++i) {
    const Frame& f = t.stack[i];
    const SchemaNode& n = schema_->node(f.node);
    switch (f.kind) {
      case Kind::Expect:
        total += n.min_len;
        break;
      case Kind::Object: {
        const int64_t rest = object_rest(f, f.seen);
        const bool required_left = !object_may_close(f);
        if (f.state == KeyOrClose) {
          total += rest - (required_left ? 1 : 0);  // the first entry needs no comma
        } else if (f.state == Key) {
          if (required_left) {
            total += rest - 1;
          } else {  // after a comma some property must come: the cheapest
            int64_t best = n.additional >= 0 ? 3 + min_len(n.additional) : kInfinite;
            for (size_t p = 0; p < n.properties.size(); ++p)
              if (!(f.seen >> p & 1)) best = std::min(best, int64_t(n.properties[p].key.size()) + 3 + min_len(n.properties[p].node));
            total += best + 1;
          }
        } else if (f.state == Colon) {
          total += 1 + min_len(f.value_node) + rest;
        } else if (f.state != InKey) {  // the key frame above counts the rest of the object
          total += rest;
        }
        break;
      }
      case Kind::Key: {
        const Frame& object = t.stack[i - 1];
        int64_t best = kInfinite;
        for (int32_t p = f.lo; p < f.hi; ++p) {
          const auto& prop = n.properties[size_t(p)];
          if (object.seen >> p & 1) continue;
          const int64_t cost = int64_t(prop.key.size()) - f.count + 2 + min_len(prop.node) +
                               object_rest(object, object.seen | uint64_t{1} << p);
          best = std::min(best, cost);
        }
        total += best;
        break;
      }
      case Kind::String: {
        int64_t rest = f.state == Escape         ? 1
                       : f.state == Unicode      ? f.aux + ((f.surrogate & HighSurrogate) ? 6 : 0)
                       : f.state == LowBackslash ? 6
                       : f.state == LowU         ? 5
                                                 : f.aux;  // Chars: the rest of a UTF-8 sequence
        const bool counted = n.min_length > 0 || n.max_length >= 0;
        if (counted) rest += std::max<int64_t>(0, n.min_length - f.count);
        rest += 1;
        if (f.free_key) {
          const Frame& object = t.stack[i - 1];
          rest += 1 + min_len(schema_->node(object.node).additional) + object_rest(object, object.seen);
        }
        total += rest;
        break;
      }
      case Kind::Number:
        total += number_can_end(f.state) ? 0 : 1;
        break;
      case Kind::Literal: {
        int64_t best = kInfinite;
        for (int32_t l = f.lo; l < f.hi; ++l) best = std::min(best, int64_t(n.literals[size_t(l)].size()) - f.count);
        total += best;
        break;
      }
      case Kind::Array: {
        const int64_t need = std::max<int64_t>(0, n.min_items - f.count);
        const int64_t item = min_len(n.items);
        if (f.state == ValueOrClose) total += need == 0 ? 1 : need * item + need;
        else if (f.state == Value) total += std::max<int64_t>(need, 1) * (item + 1);
        else total += need * (item + 1) + 1;
        break;
      }
    }
    if (total >= kInfinite) return kInfinite;
  }
  return total;
}

int64_t SchemaMatcher::min_completion() const {
  int64_t best = kInfinite;
  for (const auto& t : threads_) best = std::min(best, thread_completion(t));
  return best;
}

std::string SchemaMatcher::key() const {
  std::string k;
  const auto put = [&k](const auto& v) { k.append(reinterpret_cast<const char*>(&v), sizeof v); };
  for (const auto& t : threads_) {
    put(uint8_t(t.done));
    put(int32_t(t.ws_run));
    put(uint32_t(t.stack.size()));
    for (const Frame& f : t.stack) {
      put(f.kind);
      put(f.state);
      put(f.aux);
      put(uint8_t(f.free_key));
      put(f.surrogate);
      put(f.node);
      put(f.value_node);
      put(f.count);
      put(f.lo);
      put(f.hi);
      put(f.seen);
    }
  }
  return k;
}

}  // namespace dragon
