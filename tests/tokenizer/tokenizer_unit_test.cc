// Tokenizer behaviour beyond id parity: invalid UTF-8, special-token handling, BOS, decoding,
// and streaming detokenization that never splits a character.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tokenizer/streaming_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace dragon {
namespace {

const Tokenizer& qwen3() {
  static auto t = load_tokenizer_files((test::tokenizers_dir() / "qwen3").string());
  return *t;
}
const Tokenizer& deepseek_v3() {
  static auto t = load_tokenizer_files((test::tokenizers_dir() / "deepseek-v3").string());
  return *t;
}

TEST(Utf8Repair, ReplacesLikePython) {
  // Expected values from Python: bytes.decode("utf-8", errors="replace").
  EXPECT_EQ(repair_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(repair_utf8("\xe4\xb8"), "\xEF\xBF\xBD");                  // truncated 3-byte: one U+FFFD
  EXPECT_EQ(repair_utf8("\xe4\xb8x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(repair_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: 3
  EXPECT_EQ(repair_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");       // overlong: 2
  EXPECT_EQ(repair_utf8("\xf0\x9f\x90\x89"), "\xf0\x9f\x90\x89");       // 🐉 unchanged
}

// Ids in tokenizer.json that are not integers in range: a float id made json's get<int32_t>()
// undefined behaviour (found by tests/fuzz/fuzz_tokenizer_json with UBSan), a huge added-token id
// overflowed the vocabulary size, a post-processor id past the vocabulary leaked into encode().
TEST(Tokenizer, TokenIdsInTokenizerJsonAreChecked) {
  const auto with = [](const char* vocab, const char* added, const char* post) {
    return nlohmann::json::parse(std::string(R"({"model": {"type": "BPE", "vocab": )") + vocab + R"(, "merges": []},
      "added_tokens": )" + added + R"(, "post_processor": )" + post + "}");
  };
  const char* no_post = "null";
  EXPECT_NO_THROW(load_tokenizer_json(with(R"({"a": 0, "b": 1})", "[]", no_post), nullptr));
  for (const auto& tj : {with(R"({"a": 0, "b": 4.1e88})", "[]", no_post), with(R"({"a": 0, "b": -1})", "[]", no_post),
                         with(R"({"a": 0})", R"([{"id": 4.1e88, "content": "<s>"}])", no_post),
                         with(R"({"a": 0})", R"([{"id": 2147483647, "content": "<s>"}])", no_post),
                         with(R"({"a": 0})", "[]", R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
                              {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [7]}}})")}) {
    try {
      load_tokenizer_json(tj, nullptr);
      ADD_FAILURE() << "accepted " << tj.dump();
    } catch (const Error& e) {
      std::printf("  error: %s\n", e.what());
    }
  }
}

TEST(Tokenizer, InvalidUtf8IsEncodedAsReplacementCharacter) {
  const auto& t = qwen3();
  EXPECT_EQ(t.encode("ok\xff", false), t.encode("ok\xEF\xBF\xBD", false));
  EXPECT_EQ(t.encode("\xe4\xb8", false), t.encode("\xEF\xBF\xBD", false));
}

TEST(Tokenizer, SpecialTokensAreParsedOnlyWhenAsked) {
  const auto& t = qwen3();
  auto parsed = t.encode("<|im_start|>user", false, /*parse_special=*/true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], *t.token_id("<|im_start|>"));
  EXPECT_TRUE(t.is_special(parsed[0]));
  auto plain = t.encode("<|im_start|>user", false, /*parse_special=*/false);
  EXPECT_GT(plain.size(), parsed.size());
  EXPECT_EQ(t.decode(plain), "<|im_start|>user");
}

TEST(Tokenizer, BosFollowsTheConfig) {
  EXPECT_EQ(qwen3().encode("hi", true), qwen3().encode("hi", false));  // Qwen adds no BOS
  auto ds = deepseek_v3().encode("hi", true);
  ASSERT_GE(ds.size(), 2u);
  EXPECT_EQ(ds[0], deepseek_v3().bos_id());  // LlamaTokenizerFast with add_bos_token
  EXPECT_EQ(deepseek_v3().token_text(ds[0]), "<｜begin▁of▁sentence｜>");
}

TEST(Tokenizer, DecodeSkipsSpecialTokensOnRequest) {
  const auto& t = qwen3();
  auto ids = t.encode("<|im_start|>hello<|im_end|>", false);
  EXPECT_EQ(t.decode(ids), "<|im_start|>hello<|im_end|>");
  EXPECT_EQ(t.decode(ids, /*skip_special_tokens=*/true), "hello");
}

TEST(Tokenizer, OutOfRangeIdIsAnError) {
  EXPECT_THROW(qwen3().decode({qwen3().n_vocab()}), Error);
  EXPECT_THROW(qwen3().decode({-1}), Error);
}

TEST(StreamingDecoder, NeverEmitsHalfACharacter) {
  const auto& t = qwen3();
  const std::string text = "龙🐉 dragon 👨‍👩‍👧 ok";
  auto ids = t.encode(text, false);
  StreamingDecoder stream(t);
  std::string joined;
  size_t pieces_with_partial_chars = 0;
  for (int32_t id : ids) {
    std::string piece = stream.push(id);
    if (!piece.empty() && repair_utf8(piece) != piece) ++pieces_with_partial_chars;
    joined += piece;
    // Some tokens hold only part of a character's bytes: then nothing may be emitted yet.
    if (repair_utf8(t.token_bytes(id)) != t.token_bytes(id)) EXPECT_TRUE(piece.empty() || repair_utf8(piece) == piece);
  }
  joined += stream.finish();
  EXPECT_EQ(pieces_with_partial_chars, 0u);
  EXPECT_EQ(joined, text);
}

TEST(StreamingDecoder, FinishFlushesIncompleteBytesAsReplacement) {
  const auto& t = qwen3();
  // The byte-level token for the single byte 0xE9 is the first byte of a 3-byte character.
  auto id = t.token_id(ByteLevelAlphabet::get().byte_to_utf8[0xE9]);
  ASSERT_TRUE(id.has_value());
  StreamingDecoder stream(t);
  EXPECT_EQ(stream.push(*id), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace dragon
