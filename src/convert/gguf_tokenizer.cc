#include "convert/gguf_tokenizer.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "convert/hf_tokenizer_files.h"
#include "io/gguf.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/pre_tokenizer_presets.h"
#include "util/error.h"

namespace dragon {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// GGUF token types (llama_token_type / gguf.TokenType).
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

// The pre-tokenizer llama.cpp's converter gives an architecture's own tokenizer.
std::string preferred_pre(const std::string& arch) {
  if (arch == "qwen2" || arch == "qwen3" || arch == "qwen3moe") return "qwen2";
  if (arch == "deepseek2" || arch == "deepseek32") return "deepseek-v3";
  if (arch == "glm4" || arch == "glm4moe" || arch == "glm-dsa") return "glm4";
  if (arch == "llama") return "llama-bpe";
  if (arch == "minimax-m2") return "minimax-m2";
  if (arch == "hunyuan-moe") return "hunyuan";
  return "";
}

}  // namespace

std::string detect_pre_tokenizer(const json& tj, const std::string& arch) {
  if (!tj.contains("pre_tokenizer") || tj["pre_tokenizer"].is_null())
    fail("tokenizer.json: no pre_tokenizer (dragon convert writes byte-level BPE vocabularies only)");
  const PreTokenizer hf = PreTokenizer::from_json(tj["pre_tokenizer"]);
  if (!hf.byte_level())
    fail("tokenizer.json: the pre-tokenizer is not byte-level: a SentencePiece vocabulary, which dragon "
         "convert reads from tokenizer.model (not in this directory)");
  // Digits of every length, CJK, kana, accents, contractions, punctuation runs, whitespace runs
  // and newlines: the places where the families' regexes differ.
  static const std::string kCheck =
      "Hello World! I'm 'they're' 3 33 333 3333 33333 1234567 3.14 ,.;:!? ...\n\n  \t tab\r\n"
      "你好世界，这是一个测试。 漢字かなカナ 한국어 café naïve ÀÉÎ Ω ñ 🚀 🦙🦙 "
      "x+y=z <tag> __init__ don't WE'LL snake_case CamelCase 12ab ab12 \u3000 ー";
  const std::vector<std::string> want = hf.split(kCheck);
  std::vector<std::string> candidates = {"qwen2",  "qwen35", "llama-bpe", "glm4",   "deepseek-v3", "deepseek-llm",
                                         "deepseek-coder", "gpt-4o", "minimax-m2", "kimi-k2", "hunyuan", "gpt-2"};
  if (const std::string p = preferred_pre(arch); !p.empty()) candidates.insert(candidates.begin(), p);
  for (const std::string& name : candidates) {
    const auto regexes = pre_tokenizer_regexes(name);
    if (regexes && PreTokenizer::from_regexes(*regexes).split(kCheck) == want) return name;
  }
  fail("tokenizer.json: the pre-tokenizer splits text like none of the families dragon knows "
       "(qwen2, llama-bpe, deepseek-v3, gpt-4o, kimi-k2, ...)");
}

void embed_hf_tokenizer(const std::string& dir_name, const std::string& pre_name, const ModelConfig& c, GGUFWriter& w) {
  const fs::path dir(dir_name);
  const fs::path tj_path = dir / "tokenizer.json", tc_path = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(tj_path))
    fail("{}: missing (a GGUF needs the model's tokenizer: tokenizer.json, or a SentencePiece tokenizer.model)", tj_path.string());
  const json tj = read_json_file(tj_path);
  const json tc = fs::exists(tc_path) ? read_json_file(tc_path) : json::object();
  if (!tj.contains("model") || !tj["model"].is_object() || !tj["model"].contains("vocab") ||
      !tj["model"]["vocab"].is_object())
    fail("{}: no model.vocab", tj_path.string());
  if (tj["model"].value("type", "BPE") != "BPE")
    fail("{}: a {} model (dragon convert writes BPE vocabularies only)", tj_path.string(),
         tj["model"].value("type", ""));
  const std::string pre =
      pre_name.empty() ? with_context(tj_path.string(), [&] { return detect_pre_tokenizer(tj, c.arch); }) : pre_name;

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
    const bool control = added.value("special", false) || token_looks_special(text);
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
  w.set("tokenizer.ggml.pre", GGUFValue::str(pre));
  w.set("tokenizer.ggml.tokens", GGUFValue::str_array(tokens));
  w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(types));
  w.set("tokenizer.ggml.merges", GGUFValue::str_array(merges));

  write_hf_special_tokens(dir, tc, ids, {c.bos_token_id, c.eos_token_id, -1, -1}, w);
}

}  // namespace dragon
