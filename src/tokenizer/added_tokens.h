// Added tokens (special tokens such as <|im_start|>, and user-defined ones) are matched in the
// raw text before anything else, leftmost-longest, honouring HF's flags: lstrip / rstrip eat the
// whitespace beside a match, single_word only matches whole words, and normalized tokens are
// matched after normalization instead of before.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dragon {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A segment of input: either plain text, or one matched added token.
struct Segment {
  std::string text;    // plain text (empty for a token)
  int32_t token = -1;  // >= 0 for a matched added token
};

class AddedTokenMatcher {
 public:
  // Matches tokens whose `normalized` flag equals `normalized`; with parse_special = false the
  // special ones are left as text (HF's split_special_tokens).
  AddedTokenMatcher(const std::vector<AddedToken>& tokens, bool normalized);
  std::vector<Segment> split(std::string_view text, bool parse_special) const;
  bool empty() const { return nodes_.size() == 1; }

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> children;
    int32_t token_index = -1;  // index into tokens_ if a token ends here
  };
  std::vector<Node> nodes_;
  std::vector<AddedToken> tokens_;
};

}  // namespace dragon
