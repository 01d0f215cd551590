// Tallies, the report, resuming an interrupted run, and the cost arithmetic, with a scripted
// backend standing in for a model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "eval/ceval.h"
#include "eval/cost.h"
#include "eval/results.h"
#include "eval/runner.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon::eval {
namespace {

namespace fs = std::filesystem;

// Answers "B" to everything and counts the questions it was asked.
class AlwaysB : public Backend {
 public:
  std::vector<Response> run(const std::vector<Query>& queries) override {
    asked += static_cast<int>(queries.size());
    std::vector<Response> out(queries.size());
    for (Response& r : out) r.pred = "B";
    return out;
  }
  size_t batch_size() const override { return 2; }
  std::string describe() const override { return "always B"; }
  int asked = 0;
};

Exam test_exam() {
  CevalOptions c;
  c.shots = 0;
  return load_ceval((test::source_dir() / "tests" / "eval" / "data" / "ceval").string(), c);
}

TEST(EvalResults, TalliesPerSubjectCategoryAndOverall) {
  const Exam exam = test_exam();  // answers: computer_network C C C B, basic_medicine B C A
  AlwaysB backend;
  RunnerOptions r;
  r.progress = false;
  const RunOutcome out = run_exam(exam, backend, r);
  const Summary s = summarize(out.results);
  ASSERT_EQ(s.subjects.size(), 2u);
  EXPECT_EQ(s.subjects[0].first, "computer_network");
  EXPECT_EQ(s.subjects[0].second.correct, 1);
  EXPECT_EQ(s.subjects[1].second.correct, 1);
  EXPECT_EQ(s.overall.n, 7);
  EXPECT_DOUBLE_EQ(s.overall.accuracy(), 2.0 / 7.0);
  EXPECT_DOUBLE_EQ(s.subject_average, (1.0 / 4.0 + 1.0 / 3.0) / 2.0);
  ASSERT_EQ(s.categories.size(), 2u);
  EXPECT_EQ(s.categories[0].first, "STEM");
  EXPECT_EQ(s.categories[1].first, "Other");
  const std::string table = format_table(s);
  std::printf("%s", table.c_str());
  EXPECT_NE(table.find("computer_network"), std::string::npos);
  EXPECT_NE(table.find("28.6%"), std::string::npos);  // 2 of 7
  const auto j = report_json(s, out.results, {{"task", "ceval"}});
  EXPECT_EQ(j["task"], "ceval");
  EXPECT_EQ(j["n_items"], 7);
  EXPECT_EQ(j["subjects"]["basic_medicine"]["category"], "Other");
  EXPECT_EQ(j["items"].size(), 7u);
}

TEST(EvalResults, ResumeSkipsFinishedItemsAndRedoesACutRecord) {
  const Exam exam = test_exam();
  const fs::path file = fs::temp_directory_path() / ("dragon_resume_" + std::to_string(::getpid()) + ".jsonl");
  fs::remove(file);
  RunnerOptions r;
  r.progress = false;
  r.resume_path = file.string();

  // A first run "interrupted" after 3 items: run those, then cut the last record in half.
  Exam first = exam;
  first.items.resize(3);
  AlwaysB a;
  run_exam(first, a, r);
  EXPECT_EQ(a.asked, 3);
  std::string text;
  {
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  text.resize(text.size() - 10);
  {
    std::ofstream out(file, std::ios::trunc);
    out << text;
  }
  EXPECT_EQ(read_resume(file.string()).size(), 2u);

  AlwaysB b;
  const RunOutcome out = run_exam(exam, b, r);
  EXPECT_EQ(out.resumed, 2);
  EXPECT_EQ(b.asked, 5);  // the cut item again, and the 4 never asked
  ASSERT_EQ(out.results.size(), 7u);
  EXPECT_EQ(read_resume(file.string()).size(), 7u);
  std::printf("  resumed %lld items, asked %d\n", static_cast<long long>(out.resumed), b.asked);

  AlwaysB c;
  run_exam(exam, c, r);
  EXPECT_EQ(c.asked, 0);

  // A resume file from other data (a different answer for the same item) is refused.
  Exam other = exam;
  other.items[0].answer = "D";
  AlwaysB d;
  try {
    run_exam(other, d, r);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("computer_network/0 has answer C there but D in the data"), std::string::npos) << e.what();
  }
  // A corrupt record in the middle names its line.
  {
    std::ofstream out(file, std::ios::trunc);
    out << "{\"key\": 1}\n{}\n";
  }
  try {
    read_resume(file.string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ":1: not a result record"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

TEST(Cost, Arithmetic) {
  // $0.36 an hour at 100 tokens/s: 360,000 tokens an hour, so $1 per million.
  EXPECT_DOUBLE_EQ(usd_per_mtok(0.36, 100.0), 1.0);
  EXPECT_TRUE(std::isinf(usd_per_mtok(0.36, 0.0)));
  // 200 W at $0.15/kWh = $0.03/h.
  EXPECT_DOUBLE_EQ(usd_per_hour_from_power(200, 0.15), 0.03);
  // 3:1 input:output at $1 / $4 = $1.75.
  EXPECT_DOUBLE_EQ(blended_usd_per_mtok(1.0, 4.0, 0.75), 1.75);
  // $1/h all month (730 h) against a vendor at $1.75/Mtok: 417.14 Mtok.
  EXPECT_NEAR(break_even_mtok_per_month(1.0, 1.75), 730.0 / 1.75, 1e-9);
  // 1000 prompt tok/s and 10 gen tok/s at 75% input: a million tokens of the mix take
  // 750 s + 25,000 s, so a month (2,628,000 s) serves 102.05 Mtok.
  EXPECT_NEAR(capacity_mtok_per_month(1000, 10, 0.75), 2628000.0 / 25750.0, 1e-9);
}

TEST(Cost, VendorPriceListInTheRepoIsComplete) {
  const auto prices = load_vendor_prices((test::source_dir() / "data" / "vendor_prices.json").string());
  ASSERT_GE(prices.size(), 8u);
  bool deepseek = false, us = false;
  for (const VendorPrice& p : prices) {
    EXPECT_EQ(p.date.size(), 10u) << p.model;          // YYYY-MM-DD
    EXPECT_EQ(p.source.rfind("https://", 0), 0u) << p.model;
    EXPECT_GT(p.output_usd_per_mtok, 0) << p.model;
    deepseek |= p.vendor == "DeepSeek";
    us |= p.vendor == "OpenAI" || p.vendor == "Anthropic";
  }
  EXPECT_TRUE(deepseek && us);
  const fs::path bad = fs::temp_directory_path() / ("dragon_prices_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(bad);
    out << R"({"prices": [{"vendor": "X", "model": "m", "input_usd_per_mtok": 1}]})";
  }
  try {
    load_vendor_prices(bad.string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prices[0]"), std::string::npos) << e.what();
  }
  fs::remove(bad);
}

}  // namespace
}  // namespace dragon::eval
