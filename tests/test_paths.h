// Where the tests find the support files scripts/setup.sh prepares under <repo>/build/ (whatever
// build directory the test binary itself was built in).
#pragma once

#include <cstdlib>
#include <filesystem>

namespace dragon::test {

inline std::filesystem::path source_dir() { return DRAGON_SOURCE_DIR; }

// The llama.cpp source bundle: gguf-py, vocab test files, templates, llama.h.
inline std::filesystem::path llama_cpp_dir() {
  if (const char* env = std::getenv("DRAGON_LLAMA_CPP")) return env;
  return source_dir() / "build" / "llama.cpp";
}

// The real tokenizers (qwen3/, deepseek-v3/) and llama.cpp vocab GGUFs.
inline std::filesystem::path tokenizers_dir() {
  if (const char* env = std::getenv("DRAGON_TOKENIZERS")) return env;
  return source_dir() / "build" / "share" / "tokenizers";
}

}  // namespace dragon::test
