// What a run found: one record per item, the per-subject / per-category / overall accuracy, the
// table printed at the end, the JSON report, and the resume file (one JSON record per finished
// item, appended as the run goes, read back to skip those items after an interruption).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/backend.h"
#include "eval/exam.h"

namespace dragon::eval {

struct ItemResult {
  std::string key, id, subject, category;
  std::string answer, pred;
  bool correct = false;
  std::string output;                 // generated text (generate mode)
  std::vector<double> letter_scores;  // logits / logprobs of A, B, ... (letters mode)
  int64_t prompt_tokens = 0, completion_tokens = 0;

  static ItemResult from(const ExamItem& item, const Response& r);
  nlohmann::ordered_json to_json() const;
  static ItemResult from_json(const nlohmann::json& j);  // throws nlohmann exceptions on bad input
};

struct Tally {
  int64_t n = 0, correct = 0, unanswered = 0;
  double accuracy() const { return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0; }
};

struct Summary {
  std::vector<std::pair<std::string, Tally>> subjects;    // in order of first appearance
  std::map<std::string, std::string> subject_category;
  std::vector<std::pair<std::string, Tally>> categories;  // in order of first appearance
  Tally overall;                    // every item counted once (micro average)
  double subject_average = 0.0;     // mean of the subject accuracies (macro average)
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

Summary summarize(const std::vector<ItemResult>& results);

// The accuracy table: one row per subject, then per category, then the averages.
std::string format_table(const Summary& summary);

// The report; `run` holds the run's settings (task, model, mode, shots, ...), copied to the top.
nlohmann::ordered_json report_json(const Summary& summary, const std::vector<ItemResult>& results,
                                   const nlohmann::ordered_json& run);

// Resume file: JSON lines. read_resume() returns {} when the file does not exist; throws
// dragon::Error naming the line of a corrupt record (except a truncated last line, which an
// interruption mid-write leaves and which is dropped).
std::vector<ItemResult> read_resume(const std::string& path);

class ResumeWriter {
 public:
  explicit ResumeWriter(const std::string& path);  // appends; "" = no file
  ~ResumeWriter();
  void write(const ItemResult& r);  // one line, flushed

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace dragon::eval
