// The option letter a chat / thinking model chose, read from its free-text answer.
//
// Thinking models reason first: everything up to the last "</think>" is dropped (an unclosed
// "<think>" means the model never answered). Then, in order, the first rule that matches wins:
//   1. the answer starts with the letter: "C", "C.", "C。", "(C)", "**C**", "C 选项正确"
//   2. an explicit statement, the last one in the text: "答案是C", "答案为：C", "答案：(C)",
//      "正确答案是 选项C", "故选C", "应选C", "选C", "选项C正确", "The answer is C", "Answer: C"
//   3. a letter in brackets, the last one: "(C)", "（C）", "[C]", "【C】"
//   4. the text ends with the letter: "... 因此 C。", "...所以是C"
// A letter must stand alone (not part of an English word) and be one of the options.
// Returns "" when no rule finds one (scored as wrong, reported as unanswered).
#pragma once

#include <string>

namespace dragon::eval {

std::string extract_answer(const std::string& text, size_t n_options = 4);

// The part after the last "</think>" ("" when a "<think>" is never closed; the whole text when
// there is no think block).
std::string strip_thinking(const std::string& text);

}  // namespace dragon::eval
