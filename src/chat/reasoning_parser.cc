#include "chat/reasoning_parser.h"

#include <algorithm>

namespace dragon::chat {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest suffix of `text` that is a proper prefix of `tag` (text that may yet
// become the tag once more arrives).
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

std::optional<ReasoningTags> reasoning_tags_of_template(std::string_view source) {
  if (source.find("</think:opensource>") != std::string_view::npos ||
      (source.find("'</think{}>'") != std::string_view::npos && source.find("':opensource'") != std::string_view::npos))
    return ReasoningTags{"<think:opensource>", "</think:opensource>"};
  if (source.find("</think>") != std::string_view::npos) return ReasoningTags{};
  return std::nullopt;
}

ReasoningParser::ReasoningParser(bool starts_in_reasoning, ReasoningTags tags)
    : state_(starts_in_reasoning ? State::Reasoning : State::Start), open_(std::move(tags.open)), close_(std::move(tags.close)) {}

ReasoningDelta ReasoningParser::push(std::string_view text) {
  pending_.append(text);
  ReasoningDelta out;
  for (;;) {
    switch (state_) {
      case State::Start: {
        // Leading whitespace, then either the open tag or the answer itself.
        size_t i = 0;
        while (i < pending_.size() && is_space(pending_[i])) ++i;
        const std::string_view rest = std::string_view(pending_).substr(i);
        if (rest.empty()) return out;
        if (rest.size() < open_.size() && open_.compare(0, rest.size(), rest) == 0) return out;  // maybe the tag
        if (rest.substr(0, open_.size()) == open_) {
          pending_.erase(0, i + open_.size());
          state_ = State::Reasoning;
          continue;
        }
        state_ = State::Content;
        continue;
      }
      case State::Reasoning: {
        if (!reasoning_started_) {  // leading whitespace is not reasoning
          size_t i = 0;
          while (i < pending_.size() && is_space(pending_[i])) ++i;
          pending_.erase(0, i);
          if (pending_.empty()) return out;
        }
        const size_t at = pending_.find(close_);
        // A marker that ends the reasoning implicitly, before any close tag: content from it on.
        size_t implicit = std::string::npos;
        for (const auto& m : implicit_ends_) implicit = std::min(implicit, pending_.find(m));
        if (implicit != std::string::npos && (at == std::string::npos || implicit < at)) {
          size_t end = implicit;
          while (end > 0 && is_space(pending_[end - 1])) --end;
          out.reasoning += pending_.substr(0, end);
          pending_.erase(0, implicit);
          state_ = State::Content;
          continue;
        }
        if (at != std::string::npos) {
          size_t end = at;  // trailing whitespace before the close tag is not reasoning either
          while (end > 0 && is_space(pending_[end - 1])) --end;
          out.reasoning += pending_.substr(0, end);
          pending_.erase(0, at + close_.size());
          state_ = State::AfterReasoning;
          continue;
        }
        // Hold back a possible partial close tag and the whitespace before it.
        size_t partial = partial_tag_suffix(pending_, close_);
        for (const auto& m : implicit_ends_) partial = std::max(partial, partial_tag_suffix(pending_, m));
        size_t keep_from = pending_.size() - partial;
        while (keep_from > 0 && is_space(pending_[keep_from - 1])) --keep_from;
        if (keep_from > 0) reasoning_started_ = true;
        out.reasoning += pending_.substr(0, keep_from);
        pending_.erase(0, keep_from);
        return out;
      }
      case State::AfterReasoning: {
        // The templates put "\n\n" between </think> and the answer: not part of the answer.
        size_t i = 0;
        while (i < pending_.size() && is_space(pending_[i])) ++i;
        pending_.erase(0, i);
        if (pending_.empty()) return out;
        state_ = State::Content;
        continue;
      }
      case State::Content:
        out.content += pending_;
        pending_.clear();
        return out;
    }
  }
}

ReasoningDelta ReasoningParser::finish() {
  ReasoningDelta out;
  if (state_ == State::Reasoning) {
    // The answer ended while still thinking: all of it was reasoning.
    size_t end = pending_.size();
    while (end > 0 && is_space(pending_[end - 1])) --end;
    out.reasoning = pending_.substr(0, end);
  }
  else if (state_ != State::AfterReasoning)
    out.content = std::move(pending_);
  pending_.clear();
  return out;
}

bool prompt_opens_reasoning(std::string_view prompt, const ReasoningTags& tags) {
  const size_t open = prompt.rfind(tags.open);
  if (open == std::string_view::npos) return false;
  if (prompt.find(tags.close, open) != std::string_view::npos) return false;
  // Only when the tag is the prompt's end (whitespace aside): an earlier one is a past turn's.
  for (size_t i = open + tags.open.size(); i < prompt.size(); ++i)
    if (!is_space(prompt[i])) return false;
  return true;
}

}  // namespace dragon::chat
