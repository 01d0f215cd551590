#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace dragon {

Tokenizer::Tokenizer(TokenizerParts parts)
    : parts_(std::move(parts)),
      raw_matcher_(parts_.added_tokens, /*normalized=*/false),
      normalized_matcher_(parts_.added_tokens, /*normalized=*/true) {
  if (!parts_.model) fail("tokenizer has no model");
  n_vocab_ = static_cast<int32_t>(parts_.model->size());
  for (const auto& t : parts_.added_tokens) n_vocab_ = std::max(n_vocab_, t.id + 1);
  added_by_id_.assign(static_cast<size_t>(n_vocab_), -1);
  for (size_t i = 0; i < parts_.added_tokens.size(); ++i) {
    int32_t id = parts_.added_tokens[i].id;
    if (id < 0) fail("added token \"{}\" has a negative id", parts_.added_tokens[i].content);
    if (added_by_id_[static_cast<size_t>(id)] < 0) added_by_id_[static_cast<size_t>(id)] = static_cast<int32_t>(i);
  }
  // BOS / EOS the post-processor adds must be tokens, or encode() would emit ids past the vocabulary.
  for (const auto* ids : {&parts_.prefix_tokens, &parts_.suffix_tokens})
    for (int32_t id : *ids)
      if (id < 0 || id >= n_vocab_) fail("tokenizer: added special token id {} is outside the vocabulary (size {})", id, n_vocab_);
}

void Tokenizer::encode_text(std::string_view text, bool first_segment, bool parse_special, std::vector<int32_t>& out) const {
  std::string normalized = parts_.normalizer.empty() ? std::string(text) : parts_.normalizer.apply(text);
  std::vector<Segment> segments;
  if (normalized_matcher_.empty()) segments.push_back({std::move(normalized), -1});
  else segments = normalized_matcher_.split(normalized, parse_special);
  for (const auto& seg : segments) {
    if (seg.token >= 0) { out.push_back(seg.token); continue; }
    for (const auto& piece : parts_.pre_tokenizer.split(seg.text, first_segment)) parts_.model->encode(piece, out);
    first_segment = false;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens, bool parse_special) const {
  const std::string valid = repair_utf8(text);
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = parts_.prefix_tokens;
  bool first = true;
  for (const auto& seg : raw_matcher_.split(valid, parse_special)) {
    if (seg.token >= 0) ids.push_back(seg.token);
    else encode_text(seg.text, first, parse_special, ids);
    first = false;
  }
  if (add_special_tokens) ids.insert(ids.end(), parts_.suffix_tokens.begin(), parts_.suffix_tokens.end());
  return ids;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab_) fail("token id {} is out of range (vocabulary size {})", id, n_vocab_);
  int32_t added = added_by_id_[static_cast<size_t>(id)];
  if (added >= 0) return parts_.added_tokens[static_cast<size_t>(added)].content;
  if (static_cast<size_t>(id) >= parts_.model->size()) fail("token id {} has no spelling in the vocabulary", id);
  return parts_.model->token(id);
}

std::optional<int32_t> Tokenizer::token_id(std::string_view spelling) const {
  for (const auto& t : parts_.added_tokens)
    if (t.content == spelling) return t.id;
  return parts_.model->find(spelling);
}

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= n_vocab_) return false;
  int32_t added = added_by_id_[static_cast<size_t>(id)];
  return added >= 0 && parts_.added_tokens[static_cast<size_t>(added)].special;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const std::string& text = token_text(id);
  if (added_by_id_[static_cast<size_t>(id)] >= 0) return text;  // added tokens are plain text
  const DecoderSpec& d = parts_.decoder;
  if (d.byte_level) {
    std::string bytes;
    ByteLevelAlphabet::get().decode(text, bytes);
    return bytes;
  }
  if (d.byte_fallback && text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
    unsigned value = 0;
    if (std::sscanf(text.c_str() + 3, "%2X", &value) == 1) return std::string(1, static_cast<char>(value));
  }
  if (d.space_marker.empty()) return text;
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, d.space_marker.size(), d.space_marker) == 0) { out += ' '; i += d.space_marker.size(); }
    else out += text[i++];
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    std::string bytes = token_bytes(id);
    if (first && parts_.decoder.strip_leading_space && !bytes.empty() && bytes[0] == ' ') bytes.erase(0, 1);
    out += bytes;
    first = false;
  }
  return out;
}

}  // namespace dragon
