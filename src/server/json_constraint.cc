#include "server/json_constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/tokenizer.h"

namespace dragon {

namespace {

bool is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

bool JsonPrefix::begin_value(unsigned char c) {
  if (object_only_ && stack_.empty() && c != '{') return false;
  switch (c) {
    case '{': stack_.push_back('{'); state_ = State::KeyOrClose; return true;
    case '[': stack_.push_back('['); state_ = State::ValueOrClose; return true;
    case '"': key_ = false; state_ = State::String; return true;
    case '-': number_ = Num::Minus; state_ = State::Number; return true;
    case '0': number_ = Num::Zero; state_ = State::Number; return true;
    case 't': literal_ = "rue"; state_ = State::Literal; return true;
    case 'f': literal_ = "alse"; state_ = State::Literal; return true;
    case 'n': literal_ = "ull"; state_ = State::Literal; return true;
    default:
      if (c >= '1' && c <= '9') { number_ = Num::Int; state_ = State::Number; return true; }
      return false;
  }
}

void JsonPrefix::end_value() { state_ = stack_.empty() ? State::Done : State::CommaOrClose; }

// After a value inside a container: ',' or the container's closing bracket.
bool JsonPrefix::push_structural(unsigned char c) {
  if (is_ws(c)) return true;
  if (c == ',') {
    state_ = stack_.back() == '{' ? State::Key : State::Value;
    return true;
  }
  if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
    stack_.pop_back();
    end_value();
    return true;
  }
  return false;
}

bool JsonPrefix::push(unsigned char c) {
  switch (state_) {
    case State::Value:
      return is_ws(c) || begin_value(c);
    case State::ValueOrClose:
      if (c == ']') { stack_.pop_back(); end_value(); return true; }
      return is_ws(c) || begin_value(c);
    case State::KeyOrClose:
      if (c == '}') { stack_.pop_back(); end_value(); return true; }
      [[fallthrough]];
    case State::Key:
      if (is_ws(c)) return true;
      if (c != '"') return false;
      key_ = true;
      state_ = State::String;
      return true;
    case State::Colon:
      if (is_ws(c)) return true;
      if (c != ':') return false;
      state_ = State::Value;
      return true;
    case State::CommaOrClose:
      return push_structural(c);
    case State::String:
      if (utf8_left_ > 0) {
        if ((c & 0xC0) != 0x80) return false;
        --utf8_left_;
        return true;
      }
      if (c == '"') {
        if (key_) state_ = State::Colon; else end_value();
        return true;
      }
      if (c == '\\') { state_ = State::Escape; return true; }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c < 0x80) return true;
      if ((c & 0xE0) == 0xC0 && c >= 0xC2) { utf8_left_ = 1; return true; }
      if ((c & 0xF0) == 0xE0) { utf8_left_ = 2; return true; }
      if ((c & 0xF8) == 0xF0 && c <= 0xF4) { utf8_left_ = 3; return true; }
      return false;
    case State::Escape:
      if (c == 'u') { hex_left_ = 4; state_ = State::Unicode; return true; }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        state_ = State::String;
        return true;
      }
      return false;
    case State::Unicode:
      if (!is_hex(c)) return false;
      if (--hex_left_ == 0) state_ = State::String;
      return true;
    case State::Number:
      switch (number_) {
        case Num::Minus:
          if (c == '0') { number_ = Num::Zero; return true; }
          if (is_digit(c)) { number_ = Num::Int; return true; }
          return false;
        case Num::Zero:
        case Num::Int:
          if (is_digit(c) && number_ == Num::Int) return true;
          if (c == '.') { number_ = Num::Dot; return true; }
          if (c == 'e' || c == 'E') { number_ = Num::Exp; return true; }
          break;
        case Num::Dot:
          if (is_digit(c)) { number_ = Num::Frac; return true; }
          return false;
        case Num::Frac:
          if (is_digit(c)) return true;
          if (c == 'e' || c == 'E') { number_ = Num::Exp; return true; }
          break;
        case Num::Exp:
          if (c == '+' || c == '-') { number_ = Num::ExpSign; return true; }
          [[fallthrough]];
        case Num::ExpSign:
          if (is_digit(c)) { number_ = Num::ExpInt; exp_digits_ = 1; return true; }
          return false;
        case Num::ExpInt:
          // At most two exponent digits: 1e999 is valid JSON but overflows most parsers' doubles.
          if (is_digit(c)) return ++exp_digits_ <= 2;
          break;
      }
      // The number ended; `c` belongs to what follows it.
      if (stack_.empty()) { state_ = State::Done; return is_ws(c); }
      state_ = State::CommaOrClose;
      return push_structural(c);
    case State::Literal:
      if (c != static_cast<unsigned char>(literal_.front())) return false;
      literal_.remove_prefix(1);
      if (literal_.empty()) end_value();
      return true;
    case State::Done:
      return is_ws(c);
  }
  return false;
}

bool JsonPrefix::push(std::string_view bytes) {
  for (char c : bytes)
    if (!push(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string JsonPrefix::completion() const {
  std::string out;
  const auto value = [&] { out += stack_.empty() && object_only_ ? "{}" : "0"; };
  switch (state_) {
    case State::Value: value(); break;
    case State::ValueOrClose: case State::KeyOrClose: case State::CommaOrClose: case State::Done: break;
    case State::Key: out += "\"\":0"; break;
    case State::Colon: out += ":0"; break;
    case State::String: case State::Escape: case State::Unicode:
      if (state_ == State::Escape) out += 'n';
      if (state_ == State::Unicode) out.append(hex_left_, '0');
      out.append(utf8_left_, '\x80');
      out += key_ ? "\":0" : "\"";
      break;
    case State::Number:
      if (!number_can_end()) out += '0';
      break;
    case State::Literal: out += literal_; break;
  }
  for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) out += *it == '{' ? '}' : ']';
  return out;
}

size_t JsonPrefix::completion_size() const { return completion().size(); }

std::shared_ptr<const TokenTable> TokenTable::build(const Tokenizer& tokenizer) {
  auto table = std::make_shared<TokenTable>();
  const int32_t n = tokenizer.n_vocab();
  table->bytes.resize(n);
  table->usable.assign(n, 1);
  for (int32_t id = 0; id < n; ++id) table->bytes[id] = tokenizer.token_bytes(id);
  for (const AddedToken& t : tokenizer.added_tokens())
    if (t.id >= 0 && t.id < n) table->usable[t.id] = 0;
  for (int32_t id = 0; id < n; ++id)
    if (table->bytes[id].empty()) table->usable[id] = 0;
  return table;
}

JsonObjectConstraint::JsonObjectConstraint(std::shared_ptr<const TokenTable> table, std::vector<int32_t> stop_tokens,
                                           int64_t max_tokens)
    : table_(std::move(table)), stop_tokens_(std::move(stop_tokens)), tokens_left_(max_tokens), prefix_(true) {}

void JsonObjectConstraint::mask(float* logits, int64_t n_vocab) {
  const float ninf = -std::numeric_limits<float>::infinity();
  if (prefix_.complete()) {
    // Only a stop token may end a complete object.
    std::vector<float> keep;
    for (int32_t id : stop_tokens_) keep.push_back(id < n_vocab ? logits[id] : ninf);
    std::fill(logits, logits + n_vocab, ninf);
    for (size_t i = 0; i < stop_tokens_.size(); ++i)
      if (stop_tokens_[i] < n_vocab) logits[stop_tokens_[i]] = std::isfinite(keep[i]) ? keep[i] : 0.0f;
    return;
  }
  // After this token, tokens_left_ - 1 remain: enough for the completion one byte per token.
  const int64_t budget_after = tokens_left_ - 1;
  const int64_t n_table = static_cast<int64_t>(table_->bytes.size());
  for (int64_t id = 0; id < n_vocab; ++id) {
    if (logits[id] == ninf) continue;
    bool ok = false;
    if (id < n_table && table_->usable[id]) {
      JsonPrefix next = prefix_;
      ok = next.push(table_->bytes[id]) && static_cast<int64_t>(next.completion_size()) <= budget_after;
    }
    if (!ok) logits[id] = ninf;
  }
}

void JsonObjectConstraint::accept(int32_t token) {
  --tokens_left_;
  if (token >= 0 && token < static_cast<int32_t>(table_->bytes.size()) && table_->usable[token]) prefix_.push(table_->bytes[token]);
}

}  // namespace dragon
