// Reading exams and building prompts: the CSV reader, C-Eval folders (tests/eval/data/ceval:
// items written for these tests in C-Eval's format), the MCQ JSONL format and its error
// messages, and the prompts byte for byte against strings written out by hand from the
// C-Eval authors' template.
#include <gtest/gtest.h>

#include <string>

#include "eval/ceval.h"
#include "eval/csv.h"
#include "eval/mcq_jsonl.h"
#include "eval/prompt.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon::eval {
namespace {

std::string data_dir() { return (test::source_dir() / "tests" / "eval" / "data").string(); }

// The message of the dragon::Error `body` throws ("" if it throws none).
template <typename Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Csv, QuotedFieldsHoldCommasNewlinesAndQuotes) {
  const auto rows = parse_csv("\xEF\xBB\xBFid,text\r\n1,\"a, b\"\n2,\"line one\nline two\"\n3,\"say \"\"hi\"\"\"\n", "t.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"id", "text"}));
  EXPECT_EQ(rows[1].fields[1], "a, b");
  EXPECT_EQ(rows[2].fields[1], "line one\nline two");
  EXPECT_EQ(rows[3].fields[1], "say \"hi\"");
  EXPECT_EQ(rows[3].line, 5);  // the record after a two-line field starts on line 5
}

TEST(Csv, ErrorsNameTheLine) {
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,\"open\n2,3\n", "t.csv"); }), "t.csv:2: a quoted field is never closed");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,x\"y\n", "t.csv"); }),
            "t.csv:2: a quote inside an unquoted field (quote the whole field and double inner quotes)");
}

TEST(Ceval, LoadsSubjectsWithShotsAndLimit) {
  CevalOptions o;
  o.shots = 2;
  Exam exam = load_ceval(data_dir() + "/ceval", o);
  EXPECT_EQ(exam.task, "ceval");
  // Subjects in the C-Eval authors' order: computer_network (STEM) before basic_medicine (Other).
  ASSERT_EQ(exam.items.size(), 7u);
  EXPECT_EQ(exam.items[0].key(), "computer_network/0");
  EXPECT_EQ(exam.items[0].subject_name, "计算机网络");
  EXPECT_EQ(exam.items[0].category, "STEM");
  EXPECT_EQ(exam.items[4].key(), "basic_medicine/0");
  EXPECT_EQ(exam.items[4].category, "Other");
  EXPECT_EQ(exam.items[3].question, "下列地址中，\"127.0.0.1\"表示____。");
  ASSERT_NE(exam.shots_for("computer_network"), nullptr);
  EXPECT_EQ(exam.shots_for("computer_network")->size(), 2u);
  EXPECT_EQ(exam.shots_for("computer_network")->at(0).explanation, "1. 以太网规定最小帧长为64字节。\n2. 所以选B。");

  o.subjects = {"basic_medicine"};
  o.limit = 2;
  exam = load_ceval(data_dir() + "/ceval", o);
  ASSERT_EQ(exam.items.size(), 2u);
  EXPECT_EQ(exam.items[1].answer, "C");
}

TEST(Ceval, ErrorsNameTheProblem) {
  CevalOptions o;
  o.subjects = {"astrology"};
  const std::string e = error_of([&] { load_ceval(data_dir() + "/ceval", o); });
  EXPECT_NE(e.find("unknown C-Eval subject \"astrology\" (known: computer_network, operating_system"), std::string::npos) << e;
  o.subjects = {"law"};
  EXPECT_NE(error_of([&] { load_ceval(data_dir() + "/ceval", o); }).find("law_val.csv: cannot open"), std::string::npos);
  o.subjects = {};
  o.shots = 6;
  EXPECT_NE(error_of([&] { load_ceval(data_dir() + "/ceval", o); }).find("fewer than --shots 6"), std::string::npos);
  EXPECT_EQ(ceval_subjects().size(), 52u);
}

TEST(Prompt, CevalFewShotTextIsByteExact) {
  CevalOptions o;
  o.shots = 2;
  o.subjects = {"computer_network"};
  const Exam exam = load_ceval(data_dir() + "/ceval", o);
  const std::string expected =
      "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\n"
      "以太网帧的最小长度是____字节。\nA. 32\nB. 64\nC. 128\nD. 1500\n答案：B\n\n"
      "HTTP协议默认使用的端口号是____。\nA. 21\nB. 25\nC. 80\nD. 443\n答案：C\n\n"
      "TCP建立连接时使用____次握手。\nA. 一\nB. 二\nC. 三\nD. 四\n答案：";
  EXPECT_EQ(base_prompt("ceval", exam.items[0], *exam.shots_for("computer_network")), expected);
  EXPECT_EQ(base_prompt("ceval", exam.items[0], {}),
            "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\n"
            "TCP建立连接时使用____次握手。\nA. 一\nB. 二\nC. 三\nD. 四\n答案：");
}

TEST(Prompt, ChatMessagesFollowTheChatEvaluator) {
  CevalOptions o;
  o.shots = 1;
  o.subjects = {"basic_medicine"};
  const Exam exam = load_ceval(data_dir() + "/ceval", o);
  const auto m = chat_messages("ceval", exam.items[0], *exam.shots_for("basic_medicine"));
  const std::string header = "以下是中国关于基础医学考试的单项选择题，请选出其中的正确答案。";
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[0]["content"], "你是一个中文人工智能助手，" + header);
  EXPECT_EQ(m[1]["role"], "user");
  EXPECT_EQ(m[1]["content"], header + "\n\n人体最大的器官是____。\nA. 肝脏\nB. 皮肤\nC. 肺\nD. 大脑\n答案：");
  EXPECT_EQ(m[2]["role"], "assistant");
  EXPECT_EQ(m[2]["content"], "B");
  EXPECT_EQ(m[3]["content"], "人体正常体温约为____。\nA. 35℃\nB. 37℃\nC. 39℃\nD. 41℃\n答案：");
  // Zero-shot: the header goes on the question itself.
  const auto z = chat_messages("ceval", exam.items[0], {});
  ASSERT_EQ(z.size(), 2u);
  EXPECT_EQ(z[1]["content"], header + "\n\n人体正常体温约为____。\nA. 35℃\nB. 37℃\nC. 39℃\nD. 41℃\n答案：");
}

TEST(Mcq, ParsesListsObjectsIndicesAndCategories) {
  const Exam exam = load_mcq_jsonl(data_dir() + "/mcq.jsonl");
  EXPECT_EQ(exam.task, "mcq");
  ASSERT_EQ(exam.items.size(), 4u);
  EXPECT_EQ(exam.items[0].key(), "心内科/q1");
  EXPECT_EQ(exam.items[1].options, (std::vector<std::string>{"1.0-2.0", "3.9-6.1", "8.0-10.0"}));
  EXPECT_EQ(exam.items[1].answer, "B");  // index 1
  EXPECT_EQ(exam.items[2].options.size(), 5u);
  EXPECT_EQ(exam.items[2].answer, "A");  // "a"
  EXPECT_EQ(base_prompt("mcq", exam.items[1], {}),
            "以下是关于内分泌科考试的单项选择题，请选出其中的正确答案。\n\n"
            "正常成人空腹血糖参考范围（mmol/L）是\nA. 1.0-2.0\nB. 3.9-6.1\nC. 8.0-10.0\n答案：");
  const Exam plain = parse_mcq_jsonl(R"({"question": "1+1=", "options": ["1", "2"], "answer": "B"})", "x.jsonl");
  EXPECT_EQ(plain.items[0].id, "1");  // the line number
  EXPECT_EQ(base_prompt("mcq", plain.items[0], {}), "以下是单项选择题，请选出其中的正确答案。\n\n1+1=\nA. 1\nB. 2\n答案：");
}

TEST(Mcq, ErrorsNameTheLineAndField) {
  const auto err = [](const std::string& text) { return error_of([&] { parse_mcq_jsonl(text, "bank.jsonl"); }); };
  const std::string ok = R"({"question": "q", "options": ["a", "b"], "answer": "A"})";
  EXPECT_NE(err(ok + "\n\n{\"question\": \"q\", \"options\": [\"a\"\n").find("bank.jsonl:3: invalid JSON"), std::string::npos);
  EXPECT_EQ(err(ok + "\n" + R"({"question": "q", "answer": "A"})"), "bank.jsonl:2: no \"options\"");
  EXPECT_EQ(err(R"({"question": "q", "options": ["a", "b"], "answer": "C"})"),
            "bank.jsonl:1: \"answer\" \"C\" is not one of the option letters A..B");
  EXPECT_EQ(err(R"({"question": "q", "options": ["a", "b"], "answer": 2})"),
            "bank.jsonl:1: \"answer\" index 2 is outside the 2 options");
  EXPECT_EQ(err(R"({"question": "q", "options": {"A": "a", "C": "c"}, "answer": "A"})"),
            "bank.jsonl:1: \"options\" has 2 entries but no \"B\" (want keys A, B, C... in order)");
  EXPECT_EQ(err(R"({"question": "q", "options": ["a"], "answer": "A"})"),
            "bank.jsonl:1: \"options\" has 1 entries, want at least 2");
  EXPECT_EQ(err(R"(["q"])"), "bank.jsonl:1: want a JSON object, got array");
  EXPECT_EQ(err(R"({"id": 7, "question": "q", "options": ["a", "b"], "answer": "A"})" "\n"
                R"({"id": 7, "question": "r", "options": ["a", "b"], "answer": "B"})"),
            "bank.jsonl:2: id \"7\" appears twice");
  EXPECT_EQ(err("\n// only a comment\n"), "bank.jsonl: no questions");
}

}  // namespace
}  // namespace dragon::eval
