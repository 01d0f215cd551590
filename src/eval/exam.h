// The items of a multiple-choice exam, whatever file they came from (C-Eval CSV, MCQ JSONL):
// a question, two or more options labelled A, B, C..., the letter of the right one, and the
// subject / category they are reported under.
#pragma once

#include <string>
#include <vector>

namespace dragon::eval {

struct ExamItem {
  std::string id;           // unique within its subject ("0", "17", or the JSONL line number)
  std::string subject;      // key for reporting ("computer_network"; "" = none)
  std::string subject_name; // as the prompt names it ("计算机网络"; "" = none)
  std::string category;     // "STEM", "Social Science", ... or the JSONL category ("" = none)
  std::string question;
  std::vector<std::string> options;  // options[0] is A
  std::string answer;       // "A".."Z"; "" when the file has none (then nothing is scored)
  std::string explanation;  // C-Eval dev split only

  // "computer_network/17": what the resume file and the report use to name an item.
  std::string key() const { return subject.empty() ? id : subject + "/" + id; }
};

// "A", "B", ... for option index i.
inline std::string option_letter(size_t i) { return std::string(1, static_cast<char>('A' + i)); }

// Items to score plus, per subject, the worked examples the few-shot prompt shows.
struct Exam {
  std::string task;  // "ceval" | "mcq"
  std::vector<ExamItem> items;
  // Few-shot examples per subject key (C-Eval dev split); empty for none.
  std::vector<std::pair<std::string, std::vector<ExamItem>>> shots;

  const std::vector<ExamItem>* shots_for(const std::string& subject) const {
    for (const auto& [s, v] : shots)
      if (s == subject) return &v;
    return nullptr;
  }
};

}  // namespace dragon::eval
