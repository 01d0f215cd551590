#include "util/utf8.h"

#include <gtest/gtest.h>

namespace dragon {
namespace {

TEST(Utf8, AcceptsValidText) {
  EXPECT_TRUE(is_valid_utf8("hello"));
  EXPECT_TRUE(is_valid_utf8("龙 🐉 ä"));
  EXPECT_TRUE(is_valid_utf8(""));
}

TEST(Utf8, FindsFirstInvalidByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xff" "cd"), 2u);
  EXPECT_EQ(find_invalid_utf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xed\xa0\x80"), 1u);     // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xe4\xb8"), 0u);          // truncated
}

TEST(Utf8, EscapesInvalidBytesForMessages) {
  EXPECT_EQ(escape_for_message("a\xff" "b"), "a\\xffb");
  EXPECT_EQ(escape_for_message("龙"), "龙");
}

}  // namespace
}  // namespace dragon
