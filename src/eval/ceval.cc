#include "eval/ceval.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "eval/csv.h"
#include "util/error.h"

namespace dragon::eval {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string known_subjects() {
  std::string list;
  for (const CevalSubject& s : ceval_subjects()) list += (list.empty() ? "" : ", ") + std::string(s.key);
  return list;
}

}  // namespace

std::vector<ExamItem> read_ceval_csv(const std::string& path, const CevalSubject& subject) {
  const std::vector<CsvRow> rows = parse_csv(read_file(path), path);
  if (rows.empty()) fail("{}: empty file", path);
  // Columns by header name, so a file with or without the explanation column reads the same.
  const std::vector<std::string>& header = rows[0].fields;
  const auto column = [&](const std::string& name, bool required) -> int {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    if (required) fail("{}: the header has no \"{}\" column (want id,question,A,B,C,D,answer)", path, name);
    return -1;
  };
  const int id = column("id", true), question = column("question", true), answer = column("answer", false),
            explanation = column("explanation", false);
  const int letters[4] = {column("A", true), column("B", true), column("C", true), column("D", true)};
  std::vector<ExamItem> items;
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (row.fields.size() != header.size())
      fail("{}:{}: {} fields, the header has {}", path, row.line, row.fields.size(), header.size());
    ExamItem item;
    item.id = row.fields[id];
    item.subject = subject.key;
    item.subject_name = subject.chinese;
    item.category = subject.category;
    item.question = row.fields[question];
    for (int c : letters) item.options.push_back(row.fields[c]);
    if (answer >= 0) {
      item.answer = row.fields[answer];
      if (item.answer.size() != 1 || item.answer[0] < 'A' || item.answer[0] > 'D')
        fail("{}:{}: answer \"{}\" is not one of A, B, C, D", path, row.line, item.answer);
    }
    if (explanation >= 0) item.explanation = row.fields[explanation];
    items.push_back(std::move(item));
  }
  return items;
}

Exam load_ceval(const std::string& dir, const CevalOptions& options) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) fail("--data {}: not a directory (want the C-Eval folder holding dev/ and val/)", dir);
  std::vector<const CevalSubject*> subjects;
  if (options.subjects.empty()) {
    for (const CevalSubject& s : ceval_subjects())
      if (fs::exists(fs::path(dir) / options.split / (std::string(s.key) + "_" + options.split + ".csv")))
        subjects.push_back(&s);
    if (subjects.empty()) fail("--data {}: no {}/<subject>_{}.csv files", dir, options.split, options.split);
  } else {
    for (const std::string& key : options.subjects) {
      const CevalSubject* s = find_ceval_subject(key);
      if (!s) fail("--subjects: unknown C-Eval subject \"{}\" (known: {})", key, known_subjects());
      subjects.push_back(s);
    }
  }
  Exam exam;
  exam.task = "ceval";
  for (const CevalSubject* s : subjects) {
    const fs::path scored = fs::path(dir) / options.split / (std::string(s->key) + "_" + options.split + ".csv");
    std::vector<ExamItem> items = read_ceval_csv(scored.string(), *s);
    if (options.limit > 0 && static_cast<int>(items.size()) > options.limit) items.resize(options.limit);
    for (ExamItem& item : items) {
      if (item.answer.empty()) fail("{}: item {} has no answer to score against", scored.string(), item.id);
      exam.items.push_back(std::move(item));
    }
    if (options.shots > 0) {
      const fs::path dev = fs::path(dir) / "dev" / (std::string(s->key) + "_dev.csv");
      std::vector<ExamItem> shots = read_ceval_csv(dev.string(), *s);
      if (static_cast<int>(shots.size()) < options.shots)
        fail("{}: {} examples, fewer than --shots {}", dev.string(), shots.size(), options.shots);
      shots.resize(options.shots);
      exam.shots.emplace_back(s->key, std::move(shots));
    }
  }
  return exam;
}

}  // namespace dragon::eval
