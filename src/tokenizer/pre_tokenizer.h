// Pre-tokenization: splitting normalized text into pieces that BPE encodes independently, as
// HF tokenizers define it (tokenizer.json "pre_tokenizer"): regex Splits with their behaviours,
// ByteLevel (optionally with GPT-2's own regex), Digits, Metaspace. Each model family's split
// regexes live in pre_tokenizer_presets.cc, for vocabularies loaded from GGUF.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace dragon {

struct PreTokenizerStep {
  enum class Kind { Split, ByteLevel, Digits, Metaspace, WhitespaceSplit };
  // How a Split treats the matched parts (HF's SplitDelimiterBehavior).
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  Kind kind = Kind::Split;
  std::shared_ptr<Regex> regex;   // Split (a literal String pattern is escaped into a regex)
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel: prepend " " to pieces that lack it
  bool use_regex = false;         // ByteLevel: also split with GPT-2's regex
  bool individual_digits = false; // Digits
  std::string replacement = "\xE2\x96\x81";  // Metaspace: "▁"
  std::string prepend_scheme = "always";    // Metaspace: always | first | never
  bool split = true;                         // Metaspace: split on the replacement
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  static PreTokenizer from_json(const nlohmann::json& j);  // null, one step or a Sequence
  // A chain of Isolated regex splits (how GGUF vocabularies describe their pre-tokenizer).
  static PreTokenizer from_regexes(const std::vector<std::string>& patterns);
  void add(PreTokenizerStep step) { steps_.push_back(std::move(step)); }

  // True if some step is ByteLevel: pieces are then encoded byte by byte through GPT-2's alphabet.
  bool byte_level() const;
  // Splits `text`. `first_segment` says whether the text starts the whole input (for
  // Metaspace's prepend_scheme "first").
  std::vector<std::string> split(std::string_view text, bool first_segment = true) const;

 private:
  std::vector<PreTokenizerStep> steps_;
};

// Applies one regex split with HF semantics to `piece`, appending the resulting pieces to `out`.
void split_with_regex(std::string_view piece, const Regex& regex, PreTokenizerStep::Behavior behavior,
                      bool invert, std::vector<std::string>& out);

// A regex that matches `literal` exactly.
std::string regex_escape(std::string_view literal);

}  // namespace dragon
