// Text normalizers applied before pre-tokenization, as HF tokenizers define them
// (tokenizer.json "normalizer"): Unicode normalization forms through utf8proc, and the small
// string edits SentencePiece-style vocabularies use (Replace " " by "▁", Prepend "▁").
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace dragon {

struct NormalizerStep {
  enum class Kind { NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip };
  Kind kind = Kind::NFC;
  std::string pattern;               // Replace: literal pattern (if regex is null)
  std::shared_ptr<Regex> regex;      // Replace: regex pattern
  std::string content;               // Replace: replacement; Prepend: prefix
  bool strip_left = false, strip_right = false;
};

class Normalizer {
 public:
  Normalizer() = default;
  // From a tokenizer.json "normalizer" value (null, a single normalizer or a Sequence).
  // Throws dragon::Error for a type dragon does not implement, naming it.
  static Normalizer from_json(const nlohmann::json& j);
  void add(NormalizerStep step) { steps_.push_back(std::move(step)); }
  bool empty() const { return steps_.empty(); }
  std::string apply(std::string_view text) const;

 private:
  std::vector<NormalizerStep> steps_;
};

// Unicode normalization of valid UTF-8 (NFC/NFD/NFKC/NFKD).
std::string unicode_normalize(std::string_view text, NormalizerStep::Kind form);

}  // namespace dragon
