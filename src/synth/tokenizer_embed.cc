#include "synth/tokenizer_embed.h"

#include <fmt/format.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "convert/gguf_tokenizer.h"
#include "io/gguf.h"
#include "synth/tokenizer_to_hf.h"
#include "util/error.h"

namespace dragon {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// GGUF token type UNUSED (llama_token_type / gguf.TokenType), for padding tokens.
constexpr int32_t kUnused = 5;

constexpr std::string_view kGgufPrefix = "gguf:";

std::string binary_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return fs::path(std::string(buf, static_cast<size_t>(n))).parent_path().string();
}

void write_json_file(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  if (!out) fail("{}: cannot write", path.string());
}

// The tokenizer.ggml.pre name llama.cpp gives each tokenizer.json we ship
// (convert_hf_to_gguf.py's get_vocab_base_pre; names checked in src/llama-vocab.cpp).
std::string pre_tokenizer_name(const std::string& tokenizer) {
  if (tokenizer == "qwen3") return "qwen2";
  if (tokenizer == "deepseek-v3") return "deepseek-v3";
  fail("tokenizer \"{}\": unknown (expected qwen3, deepseek-v3 or gguf:<vocab>)", tokenizer);
}

fs::path vocab_gguf_path(const std::string& tokenizer, const fs::path& dir) {
  return dir / fmt::format("ggml-vocab-{}.gguf", tokenizer.substr(kGgufPrefix.size()));
}

// Pads a per-token array to `n` entries with `pad(i)`.
GGUFValue padded(const GGUFValue& array, int64_t n, const std::function<GGUFValue(int64_t)>& pad) {
  std::vector<GGUFValue> items = array.as_array();
  for (int64_t i = static_cast<int64_t>(items.size()); i < n; ++i) items.push_back(pad(i));
  return GGUFValue::array(array.element_type(), std::move(items));
}

void embed_from_vocab_gguf(const std::string& tokenizer, const fs::path& dir, const ModelConfig& c, GGUFWriter& w) {
  const auto file = GGUFFile::open(vocab_gguf_path(tokenizer, dir).string());
  const GGUFValue& tokens = file->get("tokenizer.ggml.tokens");
  const int64_t n_tokens = static_cast<int64_t>(tokens.as_array().size());
  if (n_tokens > c.vocab_size)
    fail("{}: {} tokens, more than the model's vocab_size {}", file->path(), n_tokens, c.vocab_size);
  for (const auto& [key, value] : file->metadata()) {
    if (!key.starts_with("tokenizer.")) continue;
    if (key == "tokenizer.ggml.tokens")
      w.set(key, padded(value, c.vocab_size, [](int64_t i) { return GGUFValue::str(fmt::format("[PAD{}]", i)); }));
    else if (key == "tokenizer.ggml.token_type")
      w.set(key, padded(value, c.vocab_size, [](int64_t) { return GGUFValue::i32(kUnused); }));
    else if (key == "tokenizer.ggml.scores")
      w.set(key, padded(value, c.vocab_size, [](int64_t) { return GGUFValue::f32(-1000.0f); }));
    else
      w.set(key, value);
  }
}

}  // namespace

std::string find_tokenizers_dir(const std::string& explicit_dir) {
  std::vector<std::string> tried;
  auto usable = [&](const std::string& d) {
    tried.push_back(d);
    return !d.empty() && fs::is_directory(d);
  };
  if (!explicit_dir.empty()) {
    if (usable(explicit_dir)) return explicit_dir;
    fail("--tokenizer-dir {}: not a directory", explicit_dir);
  }
  if (const char* env = std::getenv("DRAGON_TOKENIZERS"); env && *env) {
    if (usable(env)) return env;
    fail("DRAGON_TOKENIZERS={}: not a directory", env);
  }
  const std::string next_to_binary = (fs::path(binary_dir()) / "share" / "tokenizers").string();
  if (usable(next_to_binary)) return next_to_binary;
  fail("no tokenizer directory: {} does not exist (run scripts/setup.sh, or pass --tokenizer-dir / set "
       "DRAGON_TOKENIZERS)",
       next_to_binary);
}

void embed_gguf_tokenizer(const std::string& tokenizer, const std::string& dir, const ModelConfig& config,
                          GGUFWriter& w) {
  with_context("tokenizer " + tokenizer, [&] {
    if (tokenizer.starts_with(kGgufPrefix)) embed_from_vocab_gguf(tokenizer, dir, config, w);
    else embed_hf_tokenizer((fs::path(dir) / tokenizer).string(), pre_tokenizer_name(tokenizer), config, w);
  });
}

void write_hf_tokenizer(const std::string& tokenizer, const std::string& dir, const ModelConfig& config,
                        const std::string& out_dir) {
  with_context("tokenizer " + tokenizer, [&] {
    if (tokenizer.starts_with(kGgufPrefix)) {
      const auto file = GGUFFile::open(vocab_gguf_path(tokenizer, dir).string());
      const TokenizerFiles files = hf_tokenizer_from_gguf(*file, config);
      write_json_file(fs::path(out_dir) / "tokenizer.json", files.tokenizer_json);
      write_json_file(fs::path(out_dir) / "tokenizer_config.json", files.tokenizer_config_json);
      return;
    }
    pre_tokenizer_name(tokenizer);  // rejects unknown names
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
      const fs::path from = fs::path(dir) / tokenizer / name;
      if (!fs::exists(from)) fail("{}: missing", from.string());
      fs::copy_file(from, fs::path(out_dir) / name, fs::copy_options::overwrite_existing);
    }
  });
}

}  // namespace dragon
