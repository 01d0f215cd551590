// A generic multiple-choice format for in-house exams (a hospital's question bank, a firm's
// certification test): one JSON object per line,
//   {"question": "...", "options": ["...", "..."], "answer": "B", "category": "cardiology", "id": "q17"}
// "options" may also be an object {"A": "...", "B": "..."} (letters in order from A); "answer"
// is a letter, or the 0-based index of the right option; "category" and "id" are optional
// (id defaults to the line number). Blank lines and lines starting with // are skipped.
#pragma once

#include <string>
#include <string_view>

#include "eval/exam.h"

namespace dragon::eval {

// Throws dragon::Error naming `source`, the line and the field at fault.
Exam parse_mcq_jsonl(std::string_view text, const std::string& source);
Exam load_mcq_jsonl(const std::string& path, int limit = 0);

}  // namespace dragon::eval
