// The prompts, as the C-Eval authors build them (github.com/hkust-nlp/ceval,
// code/evaluator_series/evaluators/): for a base model one text — a header naming the exam, k
// worked examples, then the question, ending at "答案：" so the next token is the answer letter:
//
//   以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\n
//   <dev question>\nA. <A>\nB. <B>\nC. <C>\nD. <D>\n答案：C\n\n      (k times)
//   <question>\nA. <A>\nB. <B>\nC. <C>\nD. <D>\n答案：
//
// and for a chat model the same turns as messages: a system message ("你是一个中文人工智能助手，"
// + the header), each worked example as a user turn and an assistant turn holding the letter,
// the header prefixed to the first user turn, and the question as the last user turn.
// The header names the subject in Chinese, as the C-Eval paper's prompt does (their scripts pass
// the English file stem; the leaderboard's figures use the Chinese name).
// The generic MCQ format names its category instead ("以下是关于<category>考试的..."), or no subject.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/exam.h"

namespace dragon::eval {

// "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。" (no trailing newlines).
std::string exam_header(const std::string& task, const ExamItem& item);

// "<question>\nA. ..\nB. ..\n答案：" plus "<letter>\n\n" when with_answer.
std::string format_question(const ExamItem& item, bool with_answer);

// The base-model prompt: header, shots, question.
std::string base_prompt(const std::string& task, const ExamItem& item, const std::vector<ExamItem>& shots);

// The chat messages (an ordered_json array of {role, content}).
nlohmann::ordered_json chat_messages(const std::string& task, const ExamItem& item, const std::vector<ExamItem>& shots);

}  // namespace dragon::eval
