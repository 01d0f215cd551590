#include "synth/tokenizer_embed.h"

#include <fmt/format.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/gguf.h"
#include "synth/tokenizer_to_hf.h"
#include "util/error.h"

namespace dragon {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// GGUF token types (llama_token_type / gguf.TokenType).
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

constexpr std::string_view kGgufPrefix = "gguf:";

std::string binary_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return fs::path(std::string(buf, static_cast<size_t>(n))).parent_path().string();
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) fail("{}: not valid JSON", path.string());
  return j;
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

// A special-token entry of tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> special_token_text(const json& tc, const std::string& key) {
  if (!tc.contains(key) || tc[key].is_null()) return std::nullopt;
  const json& v = tc[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

// convert_hf_to_gguf.py's does_token_look_special.
bool looks_special(const std::string& t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<｜", "｜>") || wrapped("<unused", ">");
}

void set_u32(GGUFWriter& w, const std::string& key, int64_t v) {
  w.set(key, GGUFValue::u32(static_cast<uint32_t>(v)));
}

void embed_from_tokenizer_json(const std::string& tokenizer, const fs::path& dir, const ModelConfig& c,
                               GGUFWriter& w) {
  const fs::path tj_path = dir / "tokenizer.json", tc_path = dir / "tokenizer_config.json";
  const json tj = read_json_file(tj_path);
  const json tc = fs::exists(tc_path) ? read_json_file(tc_path) : json::object();
  if (!tj.contains("model") || !tj["model"].contains("vocab") || !tj["model"]["vocab"].is_object())
    fail("{}: no model.vocab", tj_path.string());

  const int64_t n_vocab = c.vocab_size;
  std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(static_cast<size_t>(n_vocab), 0);
  std::map<std::string, int64_t> ids;
  auto place = [&](const std::string& text, const json& id_json, int32_t type) {
    if (!id_json.is_number_integer()) fail("{}: token {} has a non-integer id", tj_path.string(), text);
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= n_vocab)
      fail("{}: token {} has id {}, outside the model's vocab_size {}", tj_path.string(), text, id, n_vocab);
    tokens[id] = text;
    types[id] = type;
    ids[text] = id;
  };
  for (const auto& [text, id] : tj["model"]["vocab"].items()) place(text, id, kNormal);
  for (const json& added : tj.value("added_tokens", json::array())) {
    const std::string text = added.value("content", "");
    const bool control = added.value("special", false) || looks_special(text);
    place(text, added.value("id", json()), control ? kControl : kUserDefined);
  }
  for (int64_t i = 0; i < n_vocab; ++i)
    if (types[i] == 0) {
      tokens[i] = fmt::format("[PAD{}]", i);
      types[i] = kUnused;
    }

  std::vector<std::string> merges;
  for (const json& m : tj["model"].value("merges", json::array())) {
    if (m.is_string()) merges.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else fail("{}: bad merge entry {}", tj_path.string(), m.dump());
  }

  w.set("tokenizer.ggml.model", GGUFValue::str("gpt2"));
  w.set("tokenizer.ggml.pre", GGUFValue::str(pre_tokenizer_name(tokenizer)));
  w.set("tokenizer.ggml.tokens", GGUFValue::str_array(tokens));
  w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(types));
  w.set("tokenizer.ggml.merges", GGUFValue::str_array(merges));

  // Like gguf-py's SpecialVocab: ids from tokenizer_config.json's added tokens first, then the
  // config.json ids.
  auto special_id = [&](const char* name, int64_t config_id) -> int64_t {
    if (auto text = special_token_text(tc, std::string(name) + "_token")) {
      if (auto it = ids.find(*text); it != ids.end()) return it->second;
    }
    return config_id;
  };
  const int64_t bos = special_id("bos", c.bos_token_id), eos = special_id("eos", c.eos_token_id);
  const int64_t pad = special_id("pad", -1), unk = special_id("unk", -1);
  if (bos >= 0) set_u32(w, "tokenizer.ggml.bos_token_id", bos);
  if (eos >= 0) set_u32(w, "tokenizer.ggml.eos_token_id", eos);
  if (unk >= 0) set_u32(w, "tokenizer.ggml.unknown_token_id", unk);
  if (pad >= 0) set_u32(w, "tokenizer.ggml.padding_token_id", pad);
  if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean())
    w.set("tokenizer.ggml.add_bos_token", GGUFValue::boolean(tc["add_bos_token"].get<bool>()));
  if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean())
    w.set("tokenizer.ggml.add_eos_token", GGUFValue::boolean(tc["add_eos_token"].get<bool>()));
  if (tc.contains("chat_template") && tc["chat_template"].is_string())
    w.set("tokenizer.chat_template", GGUFValue::str(tc["chat_template"].get<std::string>()));
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
    else embed_from_tokenizer_json(tokenizer, fs::path(dir) / tokenizer, config, w);
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
