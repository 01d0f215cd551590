// Test helpers for the GGUF reader: a builder of raw GGUF byte streams (so a test can corrupt
// exactly one field), a self-deleting temp directory, and "open and return the error message".
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "io/gguf.h"
#include "util/error.h"

namespace dragon::test {

// Little-endian GGUF bytes, field by field. Each method appends and returns *this.
class GGUFBytes {
 public:
  GGUFBytes& raw(std::string_view s) { bytes_.append(s); return *this; }
  GGUFBytes& u8(uint8_t v) { return le(v, 1); }
  GGUFBytes& u32(uint32_t v) { return le(v, 4); }
  GGUFBytes& u64(uint64_t v) { return le(v, 8); }
  GGUFBytes& f32(float v) { uint32_t b; std::memcpy(&b, &v, 4); return le(b, 4); }
  GGUFBytes& str(std::string_view s) { u64(s.size()); return raw(s); }
  GGUFBytes& zeros(size_t n) { bytes_.append(n, '\0'); return *this; }
  GGUFBytes& pad_to(uint64_t alignment) { return zeros((alignment - bytes_.size() % alignment) % alignment); }

  GGUFBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  GGUFBytes& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(uint32_t(GGUFType::UINT32)).u32(v); }
  GGUFBytes& kv_str(std::string_view key, std::string_view v) {
    return str(key).u32(uint32_t(GGUFType::STRING)).str(v);
  }
  // dims innermost first, as GGUF stores them; type is a GGML type id.
  GGUFBytes& tensor_info(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }

  size_t size() const { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }

 private:
  GGUFBytes& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  std::string bytes_;
};

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  explicit TempDir(std::string_view tag) {
    path_ = std::filesystem::temp_directory_path() / ("dragon_" + std::string(tag) + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Opens `path` expecting a dragon::Error and returns its message ("" and a test failure if the
// file opened, or if anything but a dragon::Error was thrown).
inline std::string gguf_open_error(const std::string& path) {
  try {
    GGUFFile::open(path);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected dragon::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << path << " opened without error";
  return "";
}

}  // namespace dragon::test
