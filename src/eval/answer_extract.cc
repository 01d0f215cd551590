#include "eval/answer_extract.h"

#include <regex>
#include <vector>

namespace dragon::eval {

namespace {

// std::regex works on bytes: multi-byte UTF-8 punctuation is written as alternations, never
// inside a [] class.
const char* const kOpen = "(?:\\(|（|\\[|【|\\*\\*)";
const char* const kSpace = "(?:\\s|　)*";

std::string letters(size_t n) { return "[A-" + std::string(1, static_cast<char>('A' + n - 1)) + "]"; }

bool is_ascii_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\n' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

// The letter of the last match of `pattern` (group 1) that stands alone.
std::string last_match(const std::string& text, const std::regex& pattern) {
  std::string found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const size_t pos = static_cast<size_t>(m.position(1));
    const bool alone = (pos == 0 || !is_ascii_alpha(text[pos - 1])) &&
                       (pos + 1 >= text.size() || !is_ascii_alpha(text[pos + 1]));
    if (alone) found = m.str(1);
  }
  return found;
}

}  // namespace

std::string strip_thinking(const std::string& text) {
  const size_t close = text.rfind("</think>");
  if (close != std::string::npos) return text.substr(close + 8);
  if (text.find("<think>") != std::string::npos) return "";
  return text;
}

std::string extract_answer(const std::string& raw, size_t n_options) {
  if (n_options < 1 || n_options > 26) return "";
  const std::string text = trim(strip_thinking(raw));
  if (text.empty()) return "";
  const std::string L = letters(n_options);
  const std::string open = kOpen, sp = kSpace;

  // 1. Starts with the letter, alone: "C", "C.", "(C)", "**C**", "C 选项".
  {
    const std::regex start("^" + open + "?" + sp + "(" + L + ")(?!\\s*[A-Za-z])");
    std::smatch m;
    if (std::regex_search(text, m, start)) return m.str(1);
  }
  // 2. Explicit statements; the last one wins (models restate their final choice at the end).
  {
    const std::string colon = "(?::|：)?";
    const std::string option = "(?:选项|option|Option)?";
    const std::string lead =
        "(?:答案|答)(?:应该|应)?(?:是|为|选)?" + colon + "|(?:故|应|因此|所以)?选(?:择)?" + colon +
        "|[Aa]nswer(?: is)?" + colon + "|[Cc]hoice(?: is)?" + colon;
    const std::regex stated("(?:" + lead + ")" + sp + option + sp + open + "?" + sp + "(" + L + ")");
    std::string found = last_match(text, stated);
    if (!found.empty()) return found;
    const std::regex option_right("选项" + sp + "(" + L + ")" + sp + "(?:是)?(?:正确|对)");
    found = last_match(text, option_right);
    if (!found.empty()) return found;
  }
  // 3. A bracketed letter, the last one.
  {
    const std::regex bracketed("(?:\\(|（|\\[|【)" + sp + "(" + L + ")" + sp + "(?:\\)|）|\\]|】)");
    const std::string found = last_match(text, bracketed);
    if (!found.empty()) return found;
  }
  // 4. Ends with the letter (and optional closing punctuation).
  {
    const std::regex ending("(" + L + ")" + sp + "(?:\\.|。|\\*\\*|！|!)?$");
    const std::string found = last_match(text, ending);
    if (!found.empty()) return found;
  }
  return "";
}

}  // namespace dragon::eval
