#include "eval/prompt.h"

namespace dragon::eval {

std::string exam_header(const std::string& task, const ExamItem& item) {
  const std::string ask = "的单项选择题，请选出其中的正确答案。";
  if (task == "ceval") return "以下是中国关于" + item.subject_name + "考试" + ask;
  if (!item.subject_name.empty()) return "以下是关于" + item.subject_name + "考试" + ask;
  return "以下是单项选择题，请选出其中的正确答案。";
}

std::string format_question(const ExamItem& item, bool with_answer) {
  std::string text = item.question;
  for (size_t i = 0; i < item.options.size(); ++i) {
    text += '\n';
    text += option_letter(i);
    text += ". ";
    text += item.options[i];
  }
  text += "\n答案：";
  if (with_answer) text += item.answer + "\n\n";
  return text;
}

std::string base_prompt(const std::string& task, const ExamItem& item, const std::vector<ExamItem>& shots) {
  std::string text = exam_header(task, item) + "\n\n";
  for (const ExamItem& shot : shots) text += format_question(shot, true);
  return text + format_question(item, false);
}

nlohmann::ordered_json chat_messages(const std::string& task, const ExamItem& item, const std::vector<ExamItem>& shots) {
  const std::string header = exam_header(task, item);
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "system"}, {"content", "你是一个中文人工智能助手，" + header}});
  bool first = true;
  const auto user = [&](const std::string& text) {
    messages.push_back({{"role", "user"}, {"content", first ? header + "\n\n" + text : text}});
    first = false;
  };
  for (const ExamItem& shot : shots) {
    user(format_question(shot, false));
    messages.push_back({{"role", "assistant"}, {"content", shot.answer}});
  }
  user(format_question(item, false));
  return messages;
}

}  // namespace dragon::eval
