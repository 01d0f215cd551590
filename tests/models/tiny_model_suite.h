// The fixture of the families' forward tests: once per test suite, one tiny synthetic model is
// written in both layouts (tiny.gguf and the HF directory tiny-hf, same seed) into a temporary
// directory, which goes when the suite ends. `Options` gives the synth options for a format and
// an output path (the family's preset, layers and --set list).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/model.h"
#include "synth/synth.h"

namespace dragon {

template <SynthOptions (*Options)(const std::string& format, const std::filesystem::path& out)>
class TinyModelSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("dragon_" + Options("gguf", "").preset + "_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    synthesize(Options("gguf", dir_ / "tiny.gguf"));
    synthesize(Options("hf", dir_ / "tiny-hf"));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  static std::unique_ptr<Model> load(const std::string& name = "tiny.gguf") {
    return build_model(open_model((dir_ / name).string()));
  }
  static inline std::filesystem::path dir_;
};

}  // namespace dragon
