// C-Eval (Huang et al., 2023): 52 subjects, each a dev split (5 worked examples with answers and
// explanations, for few-shot prompts) and a val split (scored), as CSV files
//   <dir>/dev/<subject>_dev.csv   id,question,A,B,C,D,answer,explanation
//   <dir>/val/<subject>_val.csv   id,question,A,B,C,D,answer
// The data is CC BY-NC-SA 4.0 and is not part of this repository: the user points --data at it.
#pragma once

#include <string>
#include <vector>

#include "eval/exam.h"

namespace dragon::eval {

// One subject as the C-Eval authors list it (their subject_mapping.json).
struct CevalSubject {
  const char* key;       // "computer_network" (file name stem)
  const char* english;   // "Computer Network"
  const char* chinese;   // "计算机网络" (the name the prompt uses)
  const char* category;  // "STEM" | "Social Science" | "Humanities" | "Other"
};

const std::vector<CevalSubject>& ceval_subjects();
const CevalSubject* find_ceval_subject(const std::string& key);

struct CevalOptions {
  std::vector<std::string> subjects;  // empty = every subject whose val file exists
  int shots = 5;                      // dev examples per prompt (0 = zero-shot)
  int limit = 0;                      // most val items per subject (0 = all)
  std::string split = "val";          // the split scored ("val"; "test" files have no answers)
};

// Reads the subjects' files. Throws dragon::Error naming the file and line of a malformed row,
// an unknown subject ("known: accountant, ..."), or a missing file.
Exam load_ceval(const std::string& dir, const CevalOptions& options);

// Rows of one C-Eval CSV file as items (exposed for tests).
std::vector<ExamItem> read_ceval_csv(const std::string& path, const CevalSubject& subject);

}  // namespace dragon::eval
