#include "eval/runner.h"

#include <chrono>
#include <map>

#include "eval/progress.h"
#include "eval/prompt.h"
#include "util/error.h"

namespace dragon::eval {

Query make_query(const Exam& exam, const ExamItem& item) {
  static const std::vector<ExamItem> none;
  const std::vector<ExamItem>* shots = exam.shots_for(item.subject);
  const std::vector<ExamItem>& s = shots ? *shots : none;
  return Query{&item, base_prompt(exam.task, item, s), chat_messages(exam.task, item, s)};
}

RunOutcome run_exam(const Exam& exam, Backend& backend, const RunnerOptions& options) {
  std::map<std::string, ItemResult> done;
  if (!options.resume_path.empty())
    for (ItemResult& r : read_resume(options.resume_path)) done[r.key] = std::move(r);

  RunOutcome outcome;
  std::vector<const ExamItem*> todo;
  int64_t resumed_correct = 0;
  for (const ExamItem& item : exam.items) {
    const auto it = done.find(item.key());
    if (it == done.end()) {
      todo.push_back(&item);
      continue;
    }
    if (it->second.answer != item.answer)
      fail("--resume {}: item {} has answer {} there but {} in the data: the file is from another data set",
           options.resume_path, item.key(), it->second.answer, item.answer);
    ++outcome.resumed;
    resumed_correct += it->second.correct ? 1 : 0;
  }

  ResumeWriter writer(options.resume_path);
  ProgressBar bar(static_cast<int64_t>(exam.items.size()), outcome.resumed, options.progress);
  int64_t n_done = outcome.resumed, n_correct = resumed_correct;
  bar.update(n_done, n_correct);
  const auto start = std::chrono::steady_clock::now();
  const size_t batch = std::max<size_t>(1, backend.batch_size());
  for (size_t b = 0; b < todo.size(); b += batch) {
    std::vector<Query> queries;
    for (size_t i = b; i < std::min(todo.size(), b + batch); ++i) queries.push_back(make_query(exam, *todo[i]));
    const std::vector<Response> responses = backend.run(queries);
    if (responses.size() != queries.size()) fail("the backend answered {} of {} questions", responses.size(), queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      ItemResult r = ItemResult::from(*queries[i].item, responses[i]);
      writer.write(r);
      ++n_done;
      n_correct += r.correct ? 1 : 0;
      done[r.key] = std::move(r);
    }
    bar.update(n_done, n_correct);
  }
  bar.finish();
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const ExamItem& item : exam.items) outcome.results.push_back(done.at(item.key()));
  return outcome;
}

}  // namespace dragon::eval
