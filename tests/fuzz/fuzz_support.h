// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cc): writing an input to a scratch file
// (the readers take paths and memory-map them), the rule for exceptions, and the check that every
// tensor a reader returns lies inside the bytes of its file.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor_view.h"
#include "util/error.h"

namespace dragon::fuzz {

// A per-process scratch directory, so parallel fuzzers (-jobs) do not share files.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp ? tmp : "/tmp") / ("dragon-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A finding: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::abort();
}

// Runs `body`: a dragon::Error is the expected answer to bad input; any other exception
// (nlohmann type errors, std::out_of_range, ...) would reach the user as "internal error", so it
// is a finding.
template <typename Body>
void expect_clean_errors(Body&& body) {
  try {
    body();
  } catch (const dragon::Error&) {
  } catch (const std::exception& e) {
    finding(std::string("an exception other than dragon::Error escaped: ") + e.what());
  }
}

// Where `path` is memory-mapped in this process (from /proc/self/maps): the readers map the
// whole file, so every view they return must lie inside [begin, begin + file size).
inline const uint8_t* mapped_begin(const std::filesystem::path& path) {
  std::ifstream maps("/proc/self/maps");
  const std::string want = std::filesystem::canonical(path).string();
  for (std::string line; std::getline(maps, line);) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos || line.substr(slash) != want) continue;
    // "start-end perms offset dev inode path": the map of the whole file has offset 0.
    unsigned long long start = 0, end = 0, offset = 0;
    char perms[8];
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx", &start, &end, perms, &offset) == 4 && offset == 0)
      return reinterpret_cast<const uint8_t*>(uintptr_t(start));
  }
  return nullptr;
}

// Every tensor's bytes must lie inside the file `path`, as this process mapped it.
inline void check_inside(const std::vector<TensorView>& tensors, const std::filesystem::path& path) {
  bool any = false;
  for (const TensorView& t : tensors) any = any || t.nbytes > 0;
  if (!any) return;
  const uint8_t* begin = mapped_begin(path);
  if (!begin) finding("no map of " + path.string() + " although it has tensors");
  const uint64_t size = std::filesystem::file_size(path);
  for (const TensorView& t : tensors) {
    if (t.nbytes == 0) continue;
    if (t.data < begin || t.nbytes > size || uint64_t(t.data - begin) > size - t.nbytes)
      finding("tensor " + t.name + " points outside its file");
    volatile uint8_t sink = t.data[0] ^ t.data[t.nbytes - 1];
    (void)sink;
  }
}

}  // namespace dragon::fuzz
