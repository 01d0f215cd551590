#include "eval/mcq_jsonl.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "util/error.h"

namespace dragon::eval {

namespace {

constexpr size_t kMaxOptions = 26;

std::string as_text(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  fail("{}: want text, got {}", where, v.type_name());
}

ExamItem parse_item(const nlohmann::json& j, const std::string& where, int line) {
  if (!j.is_object()) fail("{}: want a JSON object, got {}", where, j.type_name());
  ExamItem item;
  item.id = j.contains("id") ? as_text(j["id"], where + ": \"id\"") : std::to_string(line);
  if (!j.contains("question")) fail("{}: no \"question\"", where);
  item.question = as_text(j["question"], where + ": \"question\"");
  if (!j.contains("options")) fail("{}: no \"options\"", where);
  const nlohmann::json& options = j["options"];
  if (options.is_array()) {
    for (size_t i = 0; i < options.size(); ++i)
      item.options.push_back(as_text(options[i], fmt::format("{}: \"options\"[{}]", where, i)));
  } else if (options.is_object()) {
    // Letters must run A, B, C... without gaps: the prompt labels options by position.
    for (size_t i = 0; i < options.size(); ++i) {
      const std::string letter = option_letter(i);
      if (!options.contains(letter))
        fail("{}: \"options\" has {} entries but no \"{}\" (want keys A, B, C... in order)", where, options.size(), letter);
      item.options.push_back(as_text(options[letter], fmt::format("{}: \"options\".{}", where, letter)));
    }
  } else {
    fail("{}: \"options\" must be a list or an object of letters, got {}", where, options.type_name());
  }
  if (item.options.size() < 2) fail("{}: \"options\" has {} entries, want at least 2", where, item.options.size());
  if (item.options.size() > kMaxOptions) fail("{}: \"options\" has {} entries, at most {}", where, item.options.size(), kMaxOptions);
  if (!j.contains("answer")) fail("{}: no \"answer\"", where);
  const nlohmann::json& answer = j["answer"];
  if (answer.is_number_integer()) {
    const int64_t index = answer.get<int64_t>();
    if (index < 0 || index >= static_cast<int64_t>(item.options.size()))
      fail("{}: \"answer\" index {} is outside the {} options", where, index, item.options.size());
    item.answer = option_letter(static_cast<size_t>(index));
  } else if (answer.is_string()) {
    std::string a = answer.get<std::string>();
    if (a.size() == 1 && a[0] >= 'a' && a[0] <= 'z') a[0] = static_cast<char>(a[0] - 'a' + 'A');
    if (a.size() != 1 || a[0] < 'A' || static_cast<size_t>(a[0] - 'A') >= item.options.size())
      fail("{}: \"answer\" \"{}\" is not one of the option letters A..{}", where, answer.get<std::string>(),
           option_letter(item.options.size() - 1));
    item.answer = a;
  } else {
    fail("{}: \"answer\" must be a letter or an option index, got {}", where, answer.type_name());
  }
  if (j.contains("category") && !j["category"].is_null()) item.category = as_text(j["category"], where + ": \"category\"");
  item.subject = item.category;
  item.subject_name = item.category;
  return item;
}

}  // namespace

Exam parse_mcq_jsonl(std::string_view text, const std::string& source) {
  Exam exam;
  exam.task = "mcq";
  std::set<std::string> keys;
  int line = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    ++line;
    start = end + 1;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const size_t first = raw.find_first_not_of(" \t");
    if (first == std::string_view::npos || raw.substr(first, 2) == "//") {
      if (end == text.size()) break;
      continue;
    }
    const std::string where = fmt::format("{}:{}", source, line);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(raw);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
      fail("{}: invalid JSON: {}", where, e.what());
    }
    ExamItem item = parse_item(j, where, line);
    if (!keys.insert(item.key()).second) fail("{}: id \"{}\" appears twice", where, item.id);
    exam.items.push_back(std::move(item));
    if (end == text.size()) break;
  }
  if (exam.items.empty()) fail("{}: no questions", source);
  return exam;
}

Exam load_mcq_jsonl(const std::string& path, int limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("--data {}: cannot open", path);
  std::ostringstream s;
  s << in.rdbuf();
  Exam exam = parse_mcq_jsonl(s.str(), path);
  if (limit > 0 && static_cast<int>(exam.items.size()) > limit) exam.items.resize(limit);
  return exam;
}

}  // namespace dragon::eval
