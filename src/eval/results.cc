#include "eval/results.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace dragon::eval {

ItemResult ItemResult::from(const ExamItem& item, const Response& r) {
  ItemResult out;
  out.key = item.key();
  out.id = item.id;
  out.subject = item.subject;
  out.category = item.category;
  out.answer = item.answer;
  out.pred = r.pred;
  out.correct = !r.pred.empty() && r.pred == item.answer;
  out.output = r.output;
  out.letter_scores = r.letter_scores;
  out.prompt_tokens = r.prompt_tokens;
  out.completion_tokens = r.completion_tokens;
  return out;
}

nlohmann::ordered_json ItemResult::to_json() const {
  nlohmann::ordered_json j = {{"key", key},   {"id", id},         {"subject", subject}, {"category", category},
                              {"answer", answer}, {"pred", pred}, {"correct", correct}};
  if (!letter_scores.empty()) {
    // -inf (a letter an endpoint did not list) is not JSON: write null.
    nlohmann::ordered_json scores = nlohmann::ordered_json::array();
    for (double s : letter_scores) scores.push_back(std::isfinite(s) ? nlohmann::ordered_json(s) : nlohmann::ordered_json());
    j["letter_scores"] = scores;
  }
  if (!output.empty()) j["output"] = output;
  j["prompt_tokens"] = prompt_tokens;
  j["completion_tokens"] = completion_tokens;
  return j;
}

ItemResult ItemResult::from_json(const nlohmann::json& j) {
  ItemResult r;
  r.key = j.at("key").get<std::string>();
  r.id = j.at("id").get<std::string>();
  r.subject = j.value("subject", "");
  r.category = j.value("category", "");
  r.answer = j.at("answer").get<std::string>();
  r.pred = j.at("pred").get<std::string>();
  r.correct = j.at("correct").get<bool>();
  r.output = j.value("output", "");
  if (j.contains("letter_scores"))
    for (const auto& s : j["letter_scores"]) r.letter_scores.push_back(s.is_number() ? s.get<double>() : -INFINITY);
  r.prompt_tokens = j.value("prompt_tokens", int64_t{0});
  r.completion_tokens = j.value("completion_tokens", int64_t{0});
  return r;
}

namespace {

Tally& slot(std::vector<std::pair<std::string, Tally>>& list, const std::string& name) {
  for (auto& [n, t] : list)
    if (n == name) return t;
  list.emplace_back(name, Tally{});
  return list.back().second;
}

void count(Tally& t, const ItemResult& r) {
  ++t.n;
  t.correct += r.correct ? 1 : 0;
  t.unanswered += r.pred.empty() ? 1 : 0;
}

}  // namespace

Summary summarize(const std::vector<ItemResult>& results) {
  Summary s;
  for (const ItemResult& r : results) {
    count(slot(s.subjects, r.subject.empty() ? "(all)" : r.subject), r);
    s.subject_category[r.subject.empty() ? "(all)" : r.subject] = r.category;
    if (!r.category.empty()) count(slot(s.categories, r.category), r);
    count(s.overall, r);
    s.prompt_tokens += r.prompt_tokens;
    s.completion_tokens += r.completion_tokens;
  }
  double sum = 0;
  for (const auto& [name, t] : s.subjects) sum += t.accuracy();
  s.subject_average = s.subjects.empty() ? 0.0 : sum / static_cast<double>(s.subjects.size());
  return s;
}

std::string format_table(const Summary& s) {
  size_t width = 24;
  for (const auto& [name, t] : s.subjects) width = std::max(width, name.size());
  std::string out = fmt::format("{:<{}}  {:<14}  {:>6}  {:>7}  {:>8}\n", "subject", width, "category", "items", "correct", "accuracy");
  const auto row = [&](const std::string& name, const std::string& category, const Tally& t) {
    out += fmt::format("{:<{}}  {:<14}  {:>6}  {:>7}  {:>7.1f}%", name, width, category, t.n, t.correct, 100.0 * t.accuracy());
    if (t.unanswered) out += fmt::format("  ({} unanswered)", t.unanswered);
    out += "\n";
  };
  for (const auto& [name, t] : s.subjects) row(name, s.subject_category.at(name), t);
  if (!s.categories.empty()) {
    out += "\n";
    for (const auto& [name, t] : s.categories) row("category: " + name, "", t);
  }
  out += "\n";
  row("all items (micro)", "", s.overall);
  if (s.subjects.size() > 1)
    out += fmt::format("{:<{}}  {:<14}  {:>6}  {:>7}  {:>7.1f}%\n", "average of subjects", width, "", s.subjects.size(), "",
                       100.0 * s.subject_average);
  return out;
}

nlohmann::ordered_json report_json(const Summary& s, const std::vector<ItemResult>& results,
                                   const nlohmann::ordered_json& run) {
  nlohmann::ordered_json j = run;
  const auto tally = [](const Tally& t) {
    return nlohmann::ordered_json{{"n", t.n}, {"correct", t.correct}, {"unanswered", t.unanswered}, {"accuracy", t.accuracy()}};
  };
  j["n_items"] = s.overall.n;
  j["n_correct"] = s.overall.correct;
  j["n_unanswered"] = s.overall.unanswered;
  j["accuracy"] = s.overall.accuracy();
  j["average_subject_accuracy"] = s.subject_average;
  j["prompt_tokens"] = s.prompt_tokens;
  j["completion_tokens"] = s.completion_tokens;
  nlohmann::ordered_json subjects = nlohmann::ordered_json::object();
  for (const auto& [name, t] : s.subjects) {
    subjects[name] = tally(t);
    subjects[name]["category"] = s.subject_category.at(name);
  }
  j["subjects"] = subjects;
  nlohmann::ordered_json categories = nlohmann::ordered_json::object();
  for (const auto& [name, t] : s.categories) categories[name] = tally(t);
  j["categories"] = categories;
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const ItemResult& r : results) items.push_back(r.to_json());
  j["items"] = items;
  return j;
}

std::vector<ItemResult> read_resume(const std::string& path) {
  std::vector<ItemResult> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(ItemResult::from_json(nlohmann::json::parse(lines[i])));
    } catch (const nlohmann::json::exception& e) {
      if (i + 1 == lines.size()) break;  // a record cut short by the interruption: redo that item
      fail("--resume {}:{}: not a result record: {}", path, i + 1, e.what());
    }
  }
  return out;
}

ResumeWriter::ResumeWriter(const std::string& path) : path_(path) {
  if (path.empty()) return;
  // A record cut short by an interruption has no newline: drop it (read_resume skipped it too).
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!text.empty() && text.back() != '\n') {
        const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        in.close();
        std::filesystem::resize_file(path, keep);
      }
    }
  }
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) fail("--resume {}: cannot open for appending", path);
}

ResumeWriter::~ResumeWriter() {
  if (file_) std::fclose(file_);
}

void ResumeWriter::write(const ItemResult& r) {
  if (!file_) return;
  const std::string line = r.to_json().dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    fail("--resume {}: write failed", path_);
}

}  // namespace dragon::eval
