// SafetensorsFile::open on hand-made files: a good one read back exactly, then one broken file per
// check, each asserting that the error names the file and (where there is one) the tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>

#include "io/safetensors.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

class SafetensorsReader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("dragon_st_reader_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file with an explicit header length (possibly lying), header text and data bytes.
  std::string write_raw(uint64_t header_len, const std::string& header, const std::string& data) {
    const std::string path = (dir_ / "model.safetensors").string();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&header_len), 8);
    out << header << data;
    return path;
  }
  std::string write_file(const std::string& header, const std::string& data) {
    return write_raw(header.size(), header, data);
  }

  // Opens `path`, expecting a dragon::Error whose message holds the path and every fragment.
  static void expect_error(const std::string& path, std::initializer_list<std::string> fragments) {
    try {
      SafetensorsFile::open(path);
    } catch (const Error& e) {
      const std::string message = e.what();
      std::printf("  error: %s\n", message.c_str());
      EXPECT_NE(message.find(path), std::string::npos) << "message does not name the file: " << message;
      for (const std::string& fragment : fragments)
        EXPECT_NE(message.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << message;
      return;
    }
    ADD_FAILURE() << "opening " << path << " did not fail";
  }

  fs::path dir_;
};

std::string floats_bytes(std::initializer_list<float> values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

TEST_F(SafetensorsReader, ReadsTensorsMetadataAndBytes) {
  // Deliberately out of offset order in the JSON, with a scalar and an empty tensor.
  const std::string header =
      R"({"b":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]},)"
      R"("__metadata__":{"format":"pt","note":"龙"},)"
      R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("s":{"dtype":"I8","shape":[],"data_offsets":[20,21]},)"
      R"("e":{"dtype":"F8_E4M3","shape":[0,7],"data_offsets":[21,21]}})";
  const std::string data = floats_bytes({1.0f, -2.0f, 3.5f, 0.25f}) + std::string("\x80\x3f\x00\x40", 4) + "\x05";
  const auto file = SafetensorsFile::open(write_file(header, data));

  ASSERT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->tensors()[0].name, "a");  // data-offset order
  EXPECT_EQ(file->tensors()[1].name, "b");
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("note"), "龙");

  const TensorView* a = file->find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a->nbytes, 16u);
  float values[4];
  std::memcpy(values, a->data, 16);
  EXPECT_EQ(values[2], 3.5f);

  const TensorView* b = file->find_tensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::BF16);
  EXPECT_EQ(b->data, a->data + 16);
  const TensorView* s = file->find_tensor("s");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->data[0], 5);
  const TensorView* e = file->find_tensor("e");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nbytes, 0u);
  EXPECT_EQ(file->find_tensor("missing"), nullptr);
}

TEST_F(SafetensorsReader, AcceptsEveryDocumentedDtype) {
  const std::pair<const char*, int> dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2},
                                                {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
                                                {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  std::string header = "{";
  int offset = 0;
  for (const auto& [name, size] : dtypes) {
    header += fmt::format(R"({}"t_{}":{{"dtype":"{}","shape":[3],"data_offsets":[{},{}]}})", offset ? "," : "",
                          name, name, offset, offset + 3 * size);
    offset += 3 * size;
  }
  header += "}";
  const auto file = SafetensorsFile::open(write_file(header, std::string(offset, '\0')));
  EXPECT_EQ(file->tensors().size(), std::size(dtypes));
  EXPECT_EQ(file->find_tensor("t_F8_E5M2")->dtype, DType::F8_E5M2);
  EXPECT_EQ(file->find_tensor("t_BOOL")->dtype, DType::BOOL);
}

TEST_F(SafetensorsReader, RejectsFileShorterThanHeaderLength) {
  const std::string path = (dir_ / "short.safetensors").string();
  std::ofstream(path, std::ios::binary) << "abcde";
  expect_error(path, {"too short"});
}

TEST_F(SafetensorsReader, RejectsTruncatedData) {
  const std::string header = R"({"first":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("last":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  // 16 bytes of data promised, 13 present: the cut lands inside the last tensor.
  expect_error(write_file(header, std::string(13, '\0')), {"tensor 'last'", "past the end"});
}

TEST_F(SafetensorsReader, RejectsHeaderLengthPastEndOfFile) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  expect_error(write_raw(header.size() + 100, header, "abcd"), {"header length", "past the end"});
}

TEST_F(SafetensorsReader, RejectsHugeHeaderLength) {
  expect_error(write_raw(uint64_t{1} << 40, "{}", ""), {"header length 1099511627776", "limit"});
}

TEST_F(SafetensorsReader, RejectsBadJson) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)";
  expect_error(write_file(header, "abcd"), {"not valid JSON", "header byte"});
}

// A number beyond double's range makes nlohmann throw out_of_range, not parse_error: it must
// still be a dragon::Error naming the file, not an internal error (found by fuzzing).
TEST_F(SafetensorsReader, RejectsNumberOutOfRange) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":1e999})";
  expect_error(write_file(header, "abcd"), {"not valid JSON", "1e999"});
}

TEST_F(SafetensorsReader, RejectsHeaderThatIsNotAnObject) {
  expect_error(write_file("[1, 2]  ", ""), {"expected an object"});
}

TEST_F(SafetensorsReader, RejectsInvalidUtf8InName) {
  const std::string header = "{\"layer\xff.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  expect_error(write_file(header, "abcd"), {"not valid UTF-8", "layer\\xff.weight", "header byte 7"});
}

TEST_F(SafetensorsReader, RejectsUnknownDtype) {
  const std::string header = R"({"w.weight":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]}})";
  expect_error(write_file(header, "abcd"), {"tensor 'w.weight'", "unknown dtype 'Q4_K'"});
}

TEST_F(SafetensorsReader, RejectsSizeMismatch) {
  const std::string header = R"({"w.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})";
  expect_error(write_file(header, std::string(24, '\0')), {"tensor 'w.weight'", "hold 20 bytes", "needs 24"});
}

TEST_F(SafetensorsReader, RejectsOffsetsPastEndOfFile) {
  const std::string header = R"({"w.weight":{"dtype":"U8","shape":[64],"data_offsets":[1000,1064]}})";
  expect_error(write_file(header, std::string(64, '\0')), {"tensor 'w.weight'", "[1000, 1064]", "past the end"});
}

TEST_F(SafetensorsReader, RejectsOffsetsEndingBeforeTheyBegin) {
  const std::string header = R"({"w.weight":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})";
  expect_error(write_file(header, std::string(8, '\0')), {"tensor 'w.weight'", "end before they begin"});
}

TEST_F(SafetensorsReader, RejectsOverlappingTensors) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                             R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
  expect_error(write_file(header, std::string(24, '\0')), {"tensor 'b'", "overlap", "tensor 'a'"});
}

TEST_F(SafetensorsReader, RejectsDuplicateName) {
  // nlohmann::json alone would silently keep the second entry.
  const std::string header = R"({"w.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("w.weight":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_error(write_file(header, std::string(8, '\0')), {"tensor 'w.weight'", "duplicate name"});
}

TEST_F(SafetensorsReader, RejectsDuplicateKeyInsideAnEntry) {
  const std::string header = R"({"w.weight":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})";
  expect_error(write_file(header, std::string(4, '\0')), {"tensor 'w.weight'", "duplicate key 'dtype'"});
}

TEST_F(SafetensorsReader, RejectsElementCountOverflow) {
  const std::string header = R"({"w.weight":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})";
  expect_error(write_file(header, std::string(4, '\0')), {"tensor 'w.weight'", "overflows"});
}

TEST_F(SafetensorsReader, RejectsByteSizeOverflow) {
  // 2^62 elements fit int64, 2^62 * 8 bytes do not fit uint64.
  const std::string header = R"({"w.weight":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})";
  expect_error(write_file(header, std::string(8, '\0')), {"tensor 'w.weight'", "overflows"});
}

TEST_F(SafetensorsReader, RejectsNegativeOrFractionalDimension) {
  const std::string negative = R"({"w.weight":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})";
  expect_error(write_file(negative, std::string(4, '\0')), {"tensor 'w.weight'", "shape [-1]"});
  const std::string fractional = R"({"w.weight":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})";
  expect_error(write_file(fractional, std::string(4, '\0')), {"tensor 'w.weight'", "shape [1.5]"});
}

TEST_F(SafetensorsReader, RejectsMissingFields) {
  const std::string header = R"({"w.weight":{"dtype":"F32","shape":[1]}})";
  expect_error(write_file(header, std::string(4, '\0')), {"tensor 'w.weight'", "data_offsets"});
}

TEST_F(SafetensorsReader, RejectsNonStringMetadata) {
  const std::string header = R"({"__metadata__":{"total":12}})";
  expect_error(write_file(header, ""), {"__metadata__", "'total'", "not a string"});
}

}  // namespace
}  // namespace dragon
