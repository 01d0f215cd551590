#include "tokenizer/pre_tokenizer.h"

#include "util/error.h"

namespace dragon {

namespace {

// GPT-2's split pattern, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const Regex& gpt2_regex() {
  static const Regex regex(kGpt2Pattern);
  return regex;
}

PreTokenizerStep::Behavior parse_behavior(const std::string& name) {
  using B = PreTokenizerStep::Behavior;
  if (name == "Removed") return B::Removed;
  if (name == "Isolated") return B::Isolated;
  if (name == "MergedWithPrevious") return B::MergedWithPrevious;
  if (name == "MergedWithNext") return B::MergedWithNext;
  if (name == "Contiguous") return B::Contiguous;
  fail("tokenizer.json: unknown split behavior \"{}\"", name);
}

void metaspace(std::string_view piece, const PreTokenizerStep& step, bool first, std::vector<std::string>& out) {
  std::string s;
  for (char c : piece) {
    if (c == ' ') s += step.replacement;
    else s += c;
  }
  bool prepend = step.prepend_scheme == "always" || (step.prepend_scheme == "first" && first);
  if (prepend && s.compare(0, step.replacement.size(), step.replacement) != 0) s = step.replacement + s;
  if (!step.split) {
    out.push_back(std::move(s));
    return;
  }
  split_with_regex(s, *step.regex, PreTokenizerStep::Behavior::MergedWithNext, false, out);
}

}  // namespace

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

void split_with_regex(std::string_view piece, const Regex& regex, PreTokenizerStep::Behavior behavior,
                      bool invert, std::vector<std::string>& out) {
  using B = PreTokenizerStep::Behavior;
  // Cover the piece with (range, is_match) spans.
  struct Span { size_t b, e; bool match; };
  std::vector<Span> spans;
  size_t last = 0;
  for (auto [b, e] : regex.find_all(piece)) {
    if (b > last) spans.push_back({last, b, false});
    spans.push_back({b, e, true});
    last = e;
  }
  if (last < piece.size()) spans.push_back({last, piece.size(), false});
  if (invert) for (auto& s : spans) s.match = !s.match;

  auto text = [&](const Span& s) { return std::string(piece.substr(s.b, s.e - s.b)); };
  switch (behavior) {
    case B::Isolated:
      for (const auto& s : spans) out.push_back(text(s));
      break;
    case B::Removed:
      for (const auto& s : spans) if (!s.match) out.push_back(text(s));
      break;
    case B::MergedWithPrevious: {
      bool can_merge = false;  // only into a piece produced from this same input
      for (const auto& s : spans) {
        if (s.match && can_merge) out.back() += text(s);
        else out.push_back(text(s));
        can_merge = true;
      }
      break;
    }
    case B::MergedWithNext: {
      std::string pending;
      for (const auto& s : spans) {
        if (s.match) {
          if (!pending.empty()) out.push_back(std::move(pending));
          pending = text(s);
        } else {
          out.push_back(pending + text(s));
          pending.clear();
        }
      }
      if (!pending.empty()) out.push_back(std::move(pending));
      break;
    }
    case B::Contiguous: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.match && previous_match) out.back() += text(s);
        else out.push_back(text(s));
        previous_match = s.match;
      }
      break;
    }
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (j.is_null()) return p;
  const std::string type = j.value("type", "");
  using K = PreTokenizerStep::Kind;
  if (type == "Sequence") {
    for (const auto& child : j.at("pretokenizers")) {
      PreTokenizer sub = from_json(child);
      for (auto& s : sub.steps_) p.steps_.push_back(std::move(s));
    }
    return p;
  }
  PreTokenizerStep step;
  if (type == "Split") {
    step.kind = K::Split;
    const auto& pattern = j.at("pattern");
    if (pattern.contains("Regex")) step.regex = std::make_shared<Regex>(pattern["Regex"].get<std::string>());
    else step.regex = std::make_shared<Regex>(regex_escape(pattern.at("String").get<std::string>()));
    step.behavior = parse_behavior(j.value("behavior", "Isolated"));
    step.invert = j.value("invert", false);
  } else if (type == "ByteLevel") {
    step.kind = K::ByteLevel;
    step.add_prefix_space = j.value("add_prefix_space", false);
    step.use_regex = j.value("use_regex", true);
  } else if (type == "Digits") {
    step.kind = K::Digits;
    step.individual_digits = j.value("individual_digits", false);
  } else if (type == "Metaspace") {
    step.kind = K::Metaspace;
    step.replacement = j.value("replacement", std::string("\xE2\x96\x81"));
    if (j.contains("prepend_scheme")) step.prepend_scheme = j["prepend_scheme"].get<std::string>();
    else step.prepend_scheme = j.value("add_prefix_space", true) ? "always" : "never";
    step.split = j.value("split", true);
    step.regex = std::make_shared<Regex>(regex_escape(step.replacement));
  } else if (type == "WhitespaceSplit") {
    step.kind = K::WhitespaceSplit;
  } else {
    fail("tokenizer.json: pre_tokenizer type \"{}\" is not supported", type);
  }
  p.steps_.push_back(std::move(step));
  return p;
}

PreTokenizer PreTokenizer::from_regexes(const std::vector<std::string>& patterns) {
  PreTokenizer p;
  for (const auto& pattern : patterns) {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::Split;
    step.regex = std::make_shared<Regex>(pattern);
    p.steps_.push_back(std::move(step));
  }
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::ByteLevel;
  p.steps_.push_back(std::move(byte_level));
  return p;
}

bool PreTokenizer::byte_level() const {
  for (const auto& s : steps_)
    if (s.kind == PreTokenizerStep::Kind::ByteLevel) return true;
  return false;
}

std::vector<std::string> PreTokenizer::split(std::string_view text, bool first_segment) const {
  using K = PreTokenizerStep::Kind;
  std::vector<std::string> pieces{std::string(text)};
  for (const auto& step : steps_) {
    std::vector<std::string> next;
    next.reserve(pieces.size() * 2);
    for (size_t i = 0; i < pieces.size(); ++i) {
      const std::string& piece = pieces[i];
      switch (step.kind) {
        case K::Split:
          split_with_regex(piece, *step.regex, step.behavior, step.invert, next);
          break;
        case K::ByteLevel: {
          std::string s = piece;
          if (step.add_prefix_space && (s.empty() || s[0] != ' ')) s = " " + s;
          if (step.use_regex) split_with_regex(s, gpt2_regex(), PreTokenizerStep::Behavior::Isolated, false, next);
          else next.push_back(std::move(s));
          break;
        }
        case K::Digits: {
          static const Regex single(R"(\p{N})"), run(R"(\p{N}+)");
          split_with_regex(piece, step.individual_digits ? single : run, PreTokenizerStep::Behavior::Isolated, false, next);
          break;
        }
        case K::Metaspace:
          metaspace(piece, step, first_segment && i == 0, next);
          break;
        case K::WhitespaceSplit: {
          static const Regex ws(R"(\s+)");
          split_with_regex(piece, ws, PreTokenizerStep::Behavior::Removed, false, next);
          break;
        }
      }
    }
    pieces = std::move(next);
  }
  std::erase_if(pieces, [](const std::string& s) { return s.empty(); });
  return pieces;
}

}  // namespace dragon
