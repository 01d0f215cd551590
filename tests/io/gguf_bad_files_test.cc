// Malformed GGUF files: each must give one dragon::Error naming the file and the specific fault
// (key / tensor / offset) — never a crash, a hang or a huge allocation. Every case is a crafted
// byte stream that differs from a valid file in one field.
#include <gtest/gtest.h>

#include <iostream>

#include "io/gguf_helpers.h"

namespace dragon::test {
namespace {

constexpr uint32_t kF32 = 0, kQ8_0 = 8;

std::string current_test_name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

// Writes `bytes` to a temp file, opens it, and checks the error names the file and every fact.
void expect_error(const GGUFBytes& bytes, std::initializer_list<std::string_view> facts) {
  TempDir dir("gguf_bad_" + current_test_name());
  const std::string path = write_bytes(dir.file(current_test_name() + ".gguf"), bytes.bytes());
  const std::string message = gguf_open_error(path);
  std::cout << "  [" << bytes.size() << "-byte file] error: " << message << "\n";
  EXPECT_NE(message.find(path), std::string::npos) << "file path missing from: " << message;
  for (std::string_view fact : facts)
    EXPECT_NE(message.find(fact), std::string::npos) << "'" << fact << "' missing from: " << message;
}

// A valid file: two keys, two F32 tensors (token_embd.weight [4] at 0, blk.0.attn_q.weight [2, 4] at 32).
GGUFBytes valid_file() {
  GGUFBytes b;
  b.header(2, 2).kv_str("general.architecture", "qwen3").kv_u32("qwen3.block_count", 1);
  b.tensor_info("token_embd.weight", {4}, kF32, 0).tensor_info("blk.0.attn_q.weight", {4, 2}, kF32, 32);
  b.pad_to(32).zeros(16).pad_to(32).zeros(32);
  return b;
}

// One tensor named blk.0.attn_q.weight with the given dims / type / offset, after `kvs` keys.
GGUFBytes one_tensor(std::vector<uint64_t> ne, uint32_t type = kF32, uint64_t offset = 0, size_t data_bytes = 64) {
  GGUFBytes b;
  b.header(1, 0).tensor_info("blk.0.attn_q.weight", std::move(ne), type, offset).pad_to(32).zeros(data_bytes);
  return b;
}

TEST(GGUFBadFiles, ValidControlFileOpens) {
  TempDir dir("gguf_bad_control");
  auto file = GGUFFile::open(write_bytes(dir.file("ok.gguf"), valid_file().bytes()));
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[1].shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(file->get("general.architecture").as_string(), "qwen3");
}

TEST(GGUFBadFiles, BadMagic) {
  GGUFBytes b;
  b.raw("GGML").u32(3).u64(0).u64(0);
  expect_error(b, {"bad magic", "GGML", "offset 0"});
}

TEST(GGUFBadFiles, Version1Rejected) {
  GGUFBytes b;
  b.header(0, 0, 1);
  expect_error(b, {"version 1", "not supported"});
}

TEST(GGUFBadFiles, UnknownVersion) {
  GGUFBytes b;
  b.header(0, 0, 7);
  expect_error(b, {"unsupported GGUF version 7", "offset 4"});
}

TEST(GGUFBadFiles, BigEndianRejected) {
  GGUFBytes b;
  b.header(0, 0, 0x03000000);
  expect_error(b, {"big-endian"});
}

TEST(GGUFBadFiles, TruncatedHeader) {
  GGUFBytes b;
  b.raw("GGUF").u32(3).u32(0);  // the tensor count is cut in half
  expect_error(b, {"header (tensor count)", "offset 8", "past end of file"});
}

TEST(GGUFBadFiles, TruncatedKey) {
  GGUFBytes b;
  b.header(0, 1).u64(20).raw("general.arch");  // key says 20 bytes, 12 follow
  expect_error(b, {"metadata entry 0 key", "string length 20", "offset 24", "past end of file"});
}

TEST(GGUFBadFiles, TruncatedValue) {
  GGUFBytes b;
  b.header(0, 1).str("qwen3.block_count").u32(uint32_t(GGUFType::UINT32)).u8(1).u8(0);  // 2 of 4 bytes
  expect_error(b, {"key 'qwen3.block_count'", "4 bytes at offset", "past end of file"});
}

TEST(GGUFBadFiles, TruncatedTensorInfo) {
  const std::string full = valid_file().bytes();
  // Cut inside blk.0.attn_q.weight's dims: the name is complete, the second dim is not.
  const size_t cut = full.find("blk.0.attn_q.weight") + std::string("blk.0.attn_q.weight").size() + 4 + 8 + 3;
  GGUFBytes b;
  b.raw(std::string_view(full).substr(0, cut));
  expect_error(b, {"tensor 'blk.0.attn_q.weight'", "past end of file"});
}

TEST(GGUFBadFiles, TruncatedData) {
  const std::string full = valid_file().bytes();
  GGUFBytes b;
  b.raw(std::string_view(full).substr(0, full.size() - 1));
  expect_error(b, {"tensor 'blk.0.attn_q.weight'", "32 bytes of data", "past end of file"});
}

// Every proper prefix of a valid file is a truncated file at some stage; each must fail cleanly.
TEST(GGUFBadFiles, EveryTruncationFailsCleanly) {
  const std::string full = valid_file().bytes();
  TempDir dir("gguf_bad_every_truncation");
  const std::string path = dir.file("cut.gguf");
  size_t failures_named = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    write_bytes(path, std::string_view(full).substr(0, n));
    const std::string message = gguf_open_error(path);
    if (message.find(path) != std::string::npos && message.find("past end of file") != std::string::npos)
      ++failures_named;
    else
      ADD_FAILURE() << "prefix of " << n << " bytes: " << message;
  }
  std::cout << "  " << failures_named << " of " << full.size() << " truncations gave a 'past end of file' error\n";
}

TEST(GGUFBadFiles, StringLengthPastEof) {
  GGUFBytes b;
  b.header(0, 1).str("general.name").u32(uint32_t(GGUFType::STRING)).u64(uint64_t{1} << 40).raw("abc");
  expect_error(b, {"key 'general.name'", "string length 1099511627776", "past end of file"});
}

TEST(GGUFBadFiles, ArrayCountPastEof) {
  // 2^61 UINT64 elements would be 16 EiB: must fail before reserving anything.
  GGUFBytes b;
  b.header(0, 1).str("tokenizer.ggml.scores").u32(uint32_t(GGUFType::ARRAY)).u32(uint32_t(GGUFType::UINT64));
  b.u64(uint64_t{1} << 61).u64(1).u64(2);
  expect_error(b, {"key 'tokenizer.ggml.scores'", "array count 2305843009213693952", "past end of file"});
}

TEST(GGUFBadFiles, StringArrayCountPastEof) {
  GGUFBytes b;
  b.header(0, 1).str("tokenizer.ggml.tokens").u32(uint32_t(GGUFType::ARRAY)).u32(uint32_t(GGUFType::STRING));
  b.u64(1000).str("a").str("b");
  expect_error(b, {"key 'tokenizer.ggml.tokens'", "array count 1000", "past end of file"});
}

TEST(GGUFBadFiles, HugeMetadataCount) {
  GGUFBytes b;
  b.header(0, uint64_t{1} << 62).zeros(64);
  expect_error(b, {"metadata count 4611686018427387904", "past end of file"});
}

TEST(GGUFBadFiles, HugeTensorCount) {
  GGUFBytes b;
  b.header(uint64_t{1} << 62, 0).zeros(64);
  expect_error(b, {"tensor count 4611686018427387904", "past end of file"});
}

TEST(GGUFBadFiles, ElementCountOverflow) {
  expect_error(one_tensor({uint64_t{1} << 32, uint64_t{1} << 32}),
               {"tensor 'blk.0.attn_q.weight'", "element count", "overflows"});
}

TEST(GGUFBadFiles, ZeroDimension) {
  expect_error(one_tensor({4, 0}), {"tensor 'blk.0.attn_q.weight'", "dimension 1 is 0", "must be positive"});
}

TEST(GGUFBadFiles, NegativeDimension) {
  expect_error(one_tensor({~uint64_t{0}, 4}), {"tensor 'blk.0.attn_q.weight'", "dimension 0 is -1"});
}

TEST(GGUFBadFiles, TooManyDimensions) {
  expect_error(one_tensor({1, 1, 1, 1, 2}), {"tensor 'blk.0.attn_q.weight'", "5 dimensions", "at most 4"});
}

TEST(GGUFBadFiles, UnknownValueType) {
  GGUFBytes b;
  b.header(0, 1).str("general.weird").u32(13).u32(0);
  expect_error(b, {"key 'general.weird'", "unknown value type 13", "offset 45"});
}

TEST(GGUFBadFiles, UnknownArrayElementType) {
  GGUFBytes b;
  b.header(0, 1).str("general.weird").u32(uint32_t(GGUFType::ARRAY)).u32(99).u64(0);
  expect_error(b, {"key 'general.weird'", "unknown array element type 99"});
}

TEST(GGUFBadFiles, ArraysNestedTooDeep) {
  GGUFBytes b;
  b.header(0, 1).str("general.nested").u32(uint32_t(GGUFType::ARRAY));
  for (int depth = 0; depth < 12; ++depth) b.u32(uint32_t(GGUFType::ARRAY)).u64(1);
  b.u32(uint32_t(GGUFType::UINT8)).u64(1).u8(7);
  expect_error(b, {"key 'general.nested'", "nested deeper than 8"});
}

TEST(GGUFBadFiles, UnknownGgmlTypeId) {
  expect_error(one_tensor({32}, 4), {"tensor 'blk.0.attn_q.weight'", "unknown GGML type id 4"});
}

TEST(GGUFBadFiles, RowNotMultipleOfBlock) {
  expect_error(one_tensor({33}, kQ8_0), {"tensor 'blk.0.attn_q.weight'", "not a multiple of the Q8_0 block size"});
}

TEST(GGUFBadFiles, TensorDataPastEof) {
  expect_error(one_tensor({1024, 1024}), {"tensor 'blk.0.attn_q.weight'", "4194304 bytes of data", "past end of file"});
}

TEST(GGUFBadFiles, TensorOffsetNotAligned) {
  expect_error(one_tensor({4}, kF32, 4), {"tensor 'blk.0.attn_q.weight'", "data offset 4", "not aligned to 32"});
}

TEST(GGUFBadFiles, OverlappingTensors) {
  GGUFBytes b;
  b.header(2, 0).tensor_info("blk.0.attn_q.weight", {16}, kF32, 0).tensor_info("blk.0.attn_k.weight", {8}, kF32, 32);
  b.pad_to(32).zeros(96);
  expect_error(b, {"'blk.0.attn_q.weight'", "'blk.0.attn_k.weight'", "overlap", "[0, 64)", "[32, 64)"});
}

TEST(GGUFBadFiles, DuplicateKey) {
  GGUFBytes b;
  b.header(0, 2).kv_str("general.name", "a");
  const size_t second = b.size();
  b.kv_str("general.name", "b");
  expect_error(b, {"duplicate key 'general.name'", "offset " + std::to_string(second)});
}

TEST(GGUFBadFiles, DuplicateTensorName) {
  GGUFBytes b;
  b.header(2, 0).tensor_info("blk.0.attn_q.weight", {4}, kF32, 0).tensor_info("blk.0.attn_q.weight", {4}, kF32, 32);
  b.pad_to(32).zeros(64);
  expect_error(b, {"duplicate tensor name 'blk.0.attn_q.weight'"});
}

TEST(GGUFBadFiles, InvalidUtf8Key) {
  GGUFBytes b;
  b.header(0, 1).kv_u32("general.\xff\xfe", 1);
  expect_error(b, {"key 'general.\\xff\\xfe'", "invalid UTF-8 at byte 8", "offset 24"});
}

TEST(GGUFBadFiles, InvalidUtf8TensorName) {
  GGUFBytes b;
  b.header(1, 0).tensor_info("blk.0.\xc3(", {4}, kF32, 0).pad_to(32).zeros(16);
  expect_error(b, {"tensor name 'blk.0.\\xc3(", "invalid UTF-8 at byte 6"});
}

TEST(GGUFBadFiles, AlignmentNotPowerOfTwo) {
  GGUFBytes b;
  b.header(0, 1).kv_u32("general.alignment", 48);
  expect_error(b, {"key 'general.alignment'", "alignment 48 is not a nonzero power of two"});
}

TEST(GGUFBadFiles, AlignmentZero) {
  GGUFBytes b;
  b.header(0, 1).kv_u32("general.alignment", 0);
  expect_error(b, {"key 'general.alignment'", "alignment 0 is not a nonzero power of two"});
}

TEST(GGUFBadFiles, AlignmentNotAnInteger) {
  GGUFBytes b;
  b.header(0, 1).kv_str("general.alignment", "32");
  expect_error(b, {"key 'general.alignment'", "expected an integer, found STRING"});
}

}  // namespace
}  // namespace dragon::test
