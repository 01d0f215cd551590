// Runs an exam through a backend: builds each item's prompt (few-shot text and chat turns),
// asks the backend a batch at a time, scores the answers, shows progress, and appends every
// finished item to the resume file so an interrupted run picks up where it stopped.
#pragma once

#include <string>
#include <vector>

#include "eval/backend.h"
#include "eval/exam.h"
#include "eval/results.h"

namespace dragon::eval {

struct RunnerOptions {
  std::string resume_path;  // "" = none
  bool progress = true;
};

struct RunOutcome {
  std::vector<ItemResult> results;  // in the exam's item order, resumed ones included
  int64_t resumed = 0;              // items read back from the resume file
  double seconds = 0;               // time spent on the items run now
};

// The queries for an exam's items (exposed for tests and for `dragon eval --print-prompt`).
Query make_query(const Exam& exam, const ExamItem& item);

// Throws dragon::Error when the resume file holds a different answer for an item (another data
// set) or the backend fails.
RunOutcome run_exam(const Exam& exam, Backend& backend, const RunnerOptions& options);

}  // namespace dragon::eval
