// GGUFFile on crafted valid files: version 2, 4-dim shapes reversed, general.alignment honoured,
// tensor data pointing into the map at data_offset + offset.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>

#include "io/gguf_helpers.h"

namespace dragon::test {
namespace {

TEST(GGUFReader, Version2WithFourDimsAndCustomAlignment) {
  GGUFBytes b;
  b.header(2, 2, /*version=*/2).kv_u32("general.alignment", 64).kv_str("general.name", "tiny");
  // ne innermost first: {2, 3, 4, 5} is shape [5, 4, 3, 2] (120 F32 = 480 bytes, padded to 512).
  b.tensor_info("blk.0.ffn_gate_exps.weight", {2, 3, 4, 5}, 0, 0).tensor_info("output_norm.weight", {8}, 1, 512);
  b.pad_to(64);
  const uint64_t data_offset = b.size();
  for (uint32_t i = 0; i < 120; ++i) b.f32(static_cast<float>(i));
  b.pad_to(64);
  for (uint32_t i = 0; i < 8; ++i) b.u8(0x00).u8(0x3c);  // F16 1.0
  TempDir dir("gguf_reader_v2");
  auto f = GGUFFile::open(write_bytes(dir.file("v2.gguf"), b.bytes()));

  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset(), data_offset);
  ASSERT_EQ(f->tensors().size(), 2u);
  const TensorView& experts = f->tensors()[0];
  EXPECT_EQ(experts.shape, (std::vector<int64_t>{5, 4, 3, 2}));
  EXPECT_EQ(experts.nbytes, 480u);
  EXPECT_EQ(experts.numel(), 120);
  float last = 0;
  std::memcpy(&last, experts.data + 119 * 4, 4);
  EXPECT_EQ(last, 119.0f);
  const TensorView& norm = *f->find_tensor("output_norm.weight");
  EXPECT_EQ(norm.dtype, DType::F16);
  EXPECT_EQ(norm.shape, (std::vector<int64_t>{8}));
  EXPECT_EQ(norm.data - experts.data, 512) << "data must point into the map at data_offset + offset";
  EXPECT_EQ(norm.data[1], 0x3c);
  std::cout << "  data_offset " << f->data_offset() << ", tensor 1 at +" << (norm.data - experts.data) << "\n";
}

TEST(GGUFReader, OffsetAlignedTo32ButNot64IsRejectedUnder64) {
  GGUFBytes b;
  b.header(1, 1).kv_u32("general.alignment", 64).tensor_info("t", {4}, 0, 32).pad_to(64).zeros(64);
  TempDir dir("gguf_reader_align");
  const std::string message = gguf_open_error(write_bytes(dir.file("a.gguf"), b.bytes()));
  std::cout << "  " << message << "\n";
  EXPECT_NE(message.find("not aligned to 64"), std::string::npos) << message;
}

TEST(GGUFReader, NoTensorsAndNoPaddingOpens) {
  GGUFBytes b;
  b.header(0, 1).kv_str("general.architecture", "qwen3");
  TempDir dir("gguf_reader_empty");
  auto f = GGUFFile::open(write_bytes(dir.file("e.gguf"), b.bytes()));
  EXPECT_EQ(f->tensors().size(), 0u);
  EXPECT_EQ(f->get("general.architecture").as_string(), "qwen3");
  std::string missing;
  try {
    f->get("general.name");
  } catch (const Error& e) {
    missing = e.what();
  }
  EXPECT_NE(missing.find("missing key general.name"), std::string::npos) << missing;
  EXPECT_NE(missing.find("e.gguf"), std::string::npos) << missing;
}

TEST(GGUFReader, ScalarTensorHasEmptyShape) {
  GGUFBytes b;
  b.header(1, 0).tensor_info("scale", {}, 0, 0).pad_to(32).f32(2.5f);
  TempDir dir("gguf_reader_scalar");
  auto f = GGUFFile::open(write_bytes(dir.file("s.gguf"), b.bytes()));
  ASSERT_EQ(f->tensors().size(), 1u);
  EXPECT_TRUE(f->tensors()[0].shape.empty());
  EXPECT_EQ(f->tensors()[0].nbytes, 4u);
}

}  // namespace
}  // namespace dragon::test
