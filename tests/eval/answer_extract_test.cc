// Reading the chosen letter out of chat / thinking models' answers: a table of answers written
// the way such models write them, each with the letter a person reading it would take.
#include <gtest/gtest.h>

#include "eval/answer_extract.h"

namespace dragon::eval {
namespace {

struct Case {
  const char* text;
  const char* want;
};

TEST(AnswerExtract, RealLookingAnswers) {
  const Case cases[] = {
      {"C", "C"},
      {" B\n", "B"},
      {"C.", "C"},
      {"D。", "D"},
      {"(A)", "A"},
      {"（B）血小板", "B"},
      {"**C**", "C"},
      {"C 选项正确，因为TCP需要三次握手。", "C"},
      {"答案是C", "C"},
      {"答案：B", "B"},
      {"答案为：D。", "D"},
      {"正确答案是 选项A。", "A"},
      {"根据题意，应选B。", "B"},
      {"故选C", "C"},
      {"经过分析，A和B都不对，所以答案是D。", "D"},
      {"选项C正确。", "C"},
      {"我认为答案是(B)。", "B"},
      {"The answer is C.", "C"},
      {"Answer: D", "D"},
      {"首先排除A，再排除B，最终答案：【C】", "C"},
      {"<think>\n可能是A？不对，应该是B。\n</think>\n\n答案是B", "B"},
      {"<think>A看起来对</think>C", "C"},
      {"分析如下……因此 C。", "C"},
      {"皮肤是人体最大的器官，所以是B", "B"},
      // No answer: nothing to take.
      {"", ""},
      {"我不确定。", ""},
      {"<think>还在想，可能是A", ""},
      {"A good question; I cannot tell.", ""},
      {"E", ""},  // not one of four options
  };
  for (const Case& c : cases) EXPECT_EQ(extract_answer(c.text), c.want) << "text: " << c.text;
}

TEST(AnswerExtract, LettersBeyondDWhenThereAreMoreOptions) {
  EXPECT_EQ(extract_answer("答案是E", 5), "E");
  EXPECT_EQ(extract_answer("答案是E", 4), "");
  EXPECT_EQ(extract_answer("B", 2), "B");
}

TEST(AnswerExtract, StripThinking) {
  EXPECT_EQ(strip_thinking("<think>x</think>y"), "y");
  EXPECT_EQ(strip_thinking("<think>x"), "");
  EXPECT_EQ(strip_thinking("plain"), "plain");
}

}  // namespace
}  // namespace dragon::eval
