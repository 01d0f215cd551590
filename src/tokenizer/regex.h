// Unicode regular expressions for pre-tokenizers, through PCRE2 (UTF + UCP, JIT-compiled; `$`
// means end of text only, as in Rust's regex).
// HF tokenizers use Rust/Oniguruma patterns; the ones these model families ship are valid PCRE2.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dragon {

class Regex {
 public:
  // Throws dragon::Error with the PCRE2 message and offset if `pattern` does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches in `text`, as [begin, end) byte offsets, left to right.
  // Empty matches are skipped (as HF's Split does). `text` must be valid UTF-8.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dragon
