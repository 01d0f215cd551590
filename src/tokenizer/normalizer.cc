#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace dragon {

namespace {

// HF patterns are {"String": "..."} or {"Regex": "..."}.
void read_pattern(const nlohmann::json& j, NormalizerStep& step) {
  if (j.contains("String")) step.pattern = j["String"].get<std::string>();
  else if (j.contains("Regex")) step.regex = std::make_shared<Regex>(j["Regex"].get<std::string>());
  else fail("normalizer pattern must be String or Regex, got {}", j.dump());
}

std::string replace_all(std::string_view text, const NormalizerStep& step) {
  std::string out;
  if (step.regex) {
    size_t last = 0;
    for (auto [b, e] : step.regex->find_all(text)) {
      out.append(text.substr(last, b - last));
      out += step.content;
      last = e;
    }
    out.append(text.substr(last));
    return out;
  }
  if (step.pattern.empty()) return std::string(text);
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(step.pattern, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out += step.content;
    pos = hit + step.pattern.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) append_utf8(out, utf8proc_tolower(next_code_point(text, i)));
  return out;
}

bool is_unicode_space(uint32_t cp) {
  auto cat = utf8proc_category(cp);
  return cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cat == UTF8PROC_CATEGORY_ZS ||
         cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

std::string strip(std::string_view text, bool left, bool right) {
  size_t b = 0, e = text.size();
  if (left) {
    while (b < e) {
      size_t i = b;
      if (!is_unicode_space(next_code_point(text, i))) break;
      b = i;
    }
  }
  if (right) {
    while (e > b) {
      size_t start = e - 1;
      while (start > b && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
      size_t i = start;
      if (!is_unicode_space(next_code_point(text, i))) break;
      e = start;
    }
  }
  return std::string(text.substr(b, e - b));
}

}  // namespace

std::string unicode_normalize(std::string_view text, NormalizerStep::Kind form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalizerStep::Kind::NFC: options |= UTF8PROC_COMPOSE; break;
    case NormalizerStep::Kind::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalizerStep::Kind::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalizerStep::Kind::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    default: return std::string(text);
  }
  utf8proc_uint8_t* result = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &result,
                                    static_cast<utf8proc_option_t>(options));
  if (n < 0) fail("unicode normalization failed: {}", utf8proc_errmsg(n));
  std::string out(reinterpret_cast<char*>(result), static_cast<size_t>(n));
  std::free(result);
  return out;
}

Normalizer Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  if (j.is_null()) return n;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    for (const auto& child : j.at("normalizers")) {
      Normalizer sub = from_json(child);
      for (auto& s : sub.steps_) n.steps_.push_back(std::move(s));
    }
    return n;
  }
  NormalizerStep step;
  using K = NormalizerStep::Kind;
  if (type == "NFC") step.kind = K::NFC;
  else if (type == "NFD") step.kind = K::NFD;
  else if (type == "NFKC") step.kind = K::NFKC;
  else if (type == "NFKD") step.kind = K::NFKD;
  else if (type == "Lowercase") step.kind = K::Lowercase;
  else if (type == "Replace") {
    step.kind = K::Replace;
    read_pattern(j.at("pattern"), step);
    step.content = j.at("content").get<std::string>();
  } else if (type == "Prepend") {
    step.kind = K::Prepend;
    step.content = j.at("prepend").get<std::string>();
  } else if (type == "Strip") {
    step.kind = K::Strip;
    step.strip_left = j.value("strip_left", true);
    step.strip_right = j.value("strip_right", true);
  } else {
    fail("tokenizer.json: normalizer type \"{}\" is not supported", type);
  }
  n.steps_.push_back(std::move(step));
  return n;
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const auto& step : steps_) {
    using K = NormalizerStep::Kind;
    switch (step.kind) {
      case K::NFC: case K::NFD: case K::NFKC: case K::NFKD: s = unicode_normalize(s, step.kind); break;
      case K::Lowercase: s = lowercase(s); break;
      case K::Replace: s = replace_all(s, step); break;
      case K::Prepend: if (!s.empty()) s = step.content + s; break;
      case K::Strip: s = strip(s, step.strip_left, step.strip_right); break;
    }
  }
  return s;
}

}  // namespace dragon
