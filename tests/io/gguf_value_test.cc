// GGUFValue: factories, the checked accessors and their conversions, equality.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/gguf.h"
#include "util/error.h"

namespace dragon {
namespace {

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GGUFValue, IntegersConvertToInt64) {
  EXPECT_EQ(GGUFValue::u8(255).as_int(), 255);
  EXPECT_EQ(GGUFValue::i8(-128).as_int(), -128);
  EXPECT_EQ(GGUFValue::u16(65535).as_int(), 65535);
  EXPECT_EQ(GGUFValue::i16(-32768).as_int(), -32768);
  EXPECT_EQ(GGUFValue::u32(4294967295u).as_int(), 4294967295);
  EXPECT_EQ(GGUFValue::i32(-7).as_int(), -7);
  EXPECT_EQ(GGUFValue::i64(std::numeric_limits<int64_t>::min()).as_int(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(GGUFValue::u64(uint64_t{1} << 62).as_int(), int64_t{1} << 62);
  const std::string too_big = error_of([] { GGUFValue::u64(~uint64_t{0}).as_int(); });
  std::cout << "  u64 max as_int: " << too_big << "\n";
  EXPECT_NE(too_big.find("does not fit in int64"), std::string::npos);
}

TEST(GGUFValue, NumbersConvertToDouble) {
  EXPECT_EQ(GGUFValue::f32(0.1f).as_float(), static_cast<double>(0.1f));
  EXPECT_EQ(GGUFValue::f64(0.1).as_float(), 0.1);
  EXPECT_EQ(GGUFValue::i16(-3).as_float(), -3.0);
  EXPECT_EQ(GGUFValue::u64(~uint64_t{0}).as_float(), 18446744073709551615.0);
  EXPECT_TRUE(std::isnan(GGUFValue::f32(std::nanf("")).as_float()));
}

TEST(GGUFValue, WrongTypeThrowsNamingBothTypes) {
  const std::string s = error_of([] { GGUFValue::str("x").as_int(); });
  EXPECT_NE(s.find("expected an integer, found STRING"), std::string::npos) << s;
  EXPECT_NE(error_of([] { GGUFValue::f32(1).as_int(); }).find("found FLOAT32"), std::string::npos);
  EXPECT_NE(error_of([] { GGUFValue::boolean(true).as_float(); }).find("found BOOL"), std::string::npos);
  EXPECT_NE(error_of([] { GGUFValue::u8(1).as_bool(); }).find("expected BOOL, found UINT8"), std::string::npos);
  EXPECT_NE(error_of([] { GGUFValue::u8(1).as_string(); }).find("expected STRING"), std::string::npos);
  EXPECT_NE(error_of([] { GGUFValue::u8(1).as_array(); }).find("expected ARRAY"), std::string::npos);
  EXPECT_TRUE(GGUFValue::boolean(true).as_bool());
  EXPECT_FALSE(GGUFValue::boolean(false).as_bool());
}

TEST(GGUFValue, ArraysCheckElementTypes) {
  const GGUFValue tokens = GGUFValue::str_array({"a", "", "ü"});
  EXPECT_EQ(tokens.type(), GGUFType::ARRAY);
  EXPECT_EQ(tokens.element_type(), GGUFType::STRING);
  EXPECT_EQ(tokens.as_string_array(), (std::vector<std::string>{"a", "", "ü"}));
  EXPECT_EQ(GGUFValue::i32_array({1, -2}).as_int_array(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(GGUFValue::f32_array({0.5f, 2}).as_float_array(), (std::vector<double>{0.5, 2}));
  const std::string mixed = error_of([] { GGUFValue::array(GGUFType::INT32, {GGUFValue::i32(1), GGUFValue::u8(2)}); });
  EXPECT_NE(mixed.find("element 1 has type UINT8"), std::string::npos) << mixed;
  const std::string element = error_of([&] { tokens.as_int_array(); });
  EXPECT_NE(element.find("array element 0"), std::string::npos) << element;
}

TEST(GGUFValue, EqualityIsByTypeAndBits) {
  EXPECT_EQ(GGUFValue::u32(5), GGUFValue::u32(5));
  EXPECT_FALSE(GGUFValue::u32(5) == GGUFValue::i32(5));
  EXPECT_EQ(GGUFValue::f32(std::nanf("")), GGUFValue::f32(std::nanf("")));
  EXPECT_FALSE(GGUFValue::f32(0.0f) == GGUFValue::f32(-0.0f));
  EXPECT_FALSE(GGUFValue::array(GGUFType::UINT8, {}) == GGUFValue::array(GGUFType::INT8, {}));
  EXPECT_EQ(GGUFValue::str_array({"x"}), GGUFValue::str_array({"x"}));
}

TEST(GGUFValue, DisplayStringTruncatesLongArrays) {
  std::vector<int32_t> many(1000, 7);
  const std::string shown = GGUFValue::i32_array(many).to_display_string(3);
  std::cout << "  " << shown << "\n";
  EXPECT_EQ(shown, "[7, 7, 7, ... (1000 INT32 elements)]");
  EXPECT_EQ(GGUFValue::str("hi").to_display_string(), "\"hi\"");
}

}  // namespace
}  // namespace dragon
