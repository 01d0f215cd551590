#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include "tokenizer/unicode_text.h"

namespace dragon {

namespace {

bool is_space_at(std::string_view s, size_t i) {
  uint32_t cp = next_code_point(s, i);
  auto cat = utf8proc_category(cp);
  return cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cat == UTF8PROC_CATEGORY_ZS ||
         cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool is_word_code_point(uint32_t cp) {
  auto cat = utf8proc_category(cp);
  return cp == '_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) || (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME);
}

size_t char_start_before(std::string_view s, size_t i) {
  size_t k = i - 1;
  while (k > 0 && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80) --k;
  return k;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens, bool normalized) : nodes_(1) {
  for (const auto& t : tokens) {
    if (t.normalized != normalized || t.content.empty()) continue;
    int32_t node = 0;
    for (unsigned char c : t.content) {
      auto it = nodes_[node].children.find(c);
      if (it == nodes_[node].children.end()) {
        nodes_.push_back({});
        int32_t child = static_cast<int32_t>(nodes_.size() - 1);
        nodes_[node].children.emplace(c, child);
        node = child;
      } else {
        node = it->second;
      }
    }
    if (nodes_[node].token_index < 0) {  // the first definition of a content wins
      nodes_[node].token_index = static_cast<int32_t>(tokens_.size());
      tokens_.push_back(t);
    }
  }
}

std::vector<Segment> AddedTokenMatcher::split(std::string_view text, bool parse_special) const {
  std::vector<Segment> out;
  size_t text_start = 0;  // start of the pending plain text
  size_t i = 0;
  auto flush_text = [&](size_t end) {
    if (end > text_start) out.push_back({std::string(text.substr(text_start, end - text_start)), -1});
  };
  while (i < text.size()) {
    // Longest token starting at i.
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t k = i; k < text.size(); ++k) {
      auto it = nodes_[node].children.find(static_cast<unsigned char>(text[k]));
      if (it == nodes_[node].children.end()) break;
      node = it->second;
      int32_t ti = nodes_[node].token_index;
      if (ti >= 0 && (parse_special || !tokens_[ti].special)) { best = ti; best_end = k + 1; }
    }
    if (best >= 0 && tokens_[best].single_word) {
      bool word_before = i > 0 && [&] { size_t k = char_start_before(text, i); return is_word_code_point(next_code_point(text, k)); }();
      bool word_after = best_end < text.size() && [&] { size_t k = best_end; return is_word_code_point(next_code_point(text, k)); }();
      if (word_before || word_after) best = -1;
    }
    if (best < 0) {
      next_code_point(text, i);  // advance one character
      continue;
    }
    const AddedToken& t = tokens_[best];
    size_t match_begin = i, match_end = best_end;
    if (t.lstrip) while (match_begin > text_start && is_space_at(text, char_start_before(text, match_begin))) match_begin = char_start_before(text, match_begin);
    if (t.rstrip) while (match_end < text.size() && is_space_at(text, match_end)) { size_t k = match_end; next_code_point(text, k); match_end = k; }
    flush_text(match_begin);
    out.push_back({std::string(), t.id});
    text_start = i = match_end;
  }
  flush_text(text.size());
  return out;
}

}  // namespace dragon
