// GGUF tokenizer.ggml.* metadata -> Tokenizer. Byte-level BPE vocabularies ("gpt2") carry tokens
// and merges; SentencePiece vocabularies ("llama") carry tokens and scores, from which merges are
// derived the way HF's SentencePieceExtractor does, so one BPE implementation serves both.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "hub/hub.h"
#include "io/gguf.h"
#include "tokenizer/pre_tokenizer_presets.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dragon {

namespace {

// GGUF token types (llama.cpp's llama_token_type).
enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

std::vector<std::string> string_array(const GGUFFile& f, const char* key) {
  std::vector<std::string> out;
  const GGUFValue* v = f.find(key);
  if (!v) return out;
  const auto& a = v->as_array();
  out.reserve(a.size());
  for (const auto& e : a) out.push_back(e.as_string());
  return out;
}

int32_t optional_id(const GGUFFile& f, const char* key, size_t n_tokens) {
  const GGUFValue* v = f.find(key);
  if (!v) return -1;
  int64_t id = v->as_int();
  if (id < 0 || static_cast<size_t>(id) >= n_tokens) return -1;  // llama.cpp tolerates e.g. -1 here
  return static_cast<int32_t>(id);
}

bool optional_bool(const GGUFFile& f, const char* key, bool fallback) {
  const GGUFValue* v = f.find(key);
  return v ? v->as_bool() : fallback;
}

// Merges implied by SentencePiece scores: every split of a piece into two pieces of the
// vocabulary, ranked by the piece's score (higher first), ties by the parts' ids.
std::vector<std::pair<std::string, std::string>> merges_from_scores(const std::vector<std::string>& tokens,
                                                                    const std::vector<float>& scores,
                                                                    const std::vector<int32_t>& types) {
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t i = 0; i < tokens.size(); ++i) ids.emplace(tokens[i], static_cast<int32_t>(i));
  struct Candidate { float score; int32_t left, right; };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!types.empty() && types[i] != kNormal && types[i] != kUserDefined) continue;
    const std::string& t = tokens[i];
    for (size_t cut = 1; cut < t.size(); ++cut) {
      if ((static_cast<uint8_t>(t[cut]) & 0xC0) == 0x80) continue;  // split between characters only
      auto l = ids.find(std::string_view(t).substr(0, cut)), r = ids.find(std::string_view(t).substr(cut));
      if (l != ids.end() && r != ids.end()) candidates.push_back({scores[i], l->second, r->second});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(candidates.size());
  for (const auto& c : candidates) merges.emplace_back(tokens[c.left], tokens[c.right]);
  return merges;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_gguf(const GGUFFile& f) {
  return with_context(f.path(), [&] {
    const std::string model = f.get("tokenizer.ggml.model").as_string();
    std::vector<std::string> tokens = string_array(f, "tokenizer.ggml.tokens");
    if (tokens.empty()) fail("tokenizer.ggml.tokens is missing or empty");
    std::vector<int32_t> types;
    if (const GGUFValue* v = f.find("tokenizer.ggml.token_type")) {
      for (const auto& e : v->as_array()) types.push_back(static_cast<int32_t>(e.as_int()));
      if (types.size() != tokens.size()) fail("tokenizer.ggml.token_type has {} entries for {} tokens", types.size(), tokens.size());
    }

    TokenizerParts parts;
    // Control and user-defined tokens are matched in the text before BPE, like HF's added tokens.
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] != kControl && types[i] != kUserDefined) continue;
      AddedToken t;
      t.content = tokens[i];
      t.id = static_cast<int32_t>(i);
      t.special = types[i] == kControl;
      parts.added_tokens.push_back(std::move(t));
    }
    const size_t n = tokens.size();
    parts.bos_id = optional_id(f, "tokenizer.ggml.bos_token_id", n);
    parts.eos_id = optional_id(f, "tokenizer.ggml.eos_token_id", n);
    parts.pad_id = optional_id(f, "tokenizer.ggml.padding_token_id", n);
    if (const GGUFValue* v = f.find("tokenizer.chat_template")) parts.chat_template = v->as_string();

    BpeModel::Options options;
    std::vector<std::pair<std::string, std::string>> merges;
    if (model == "gpt2") {
      const std::string pre = f.find("tokenizer.ggml.pre") ? f.get("tokenizer.ggml.pre").as_string() : "default";
      auto regexes = pre_tokenizer_regexes(pre);
      if (!regexes) fail("tokenizer.ggml.pre \"{}\" is not a pre-tokenizer dragon knows", pre);
      parts.pre_tokenizer = PreTokenizer::from_regexes(*regexes);
      // Llama-3's tokenizer.json sets ignore_merges (a piece that is a whole token is not re-merged);
      // GGUF does not store the flag, so it follows from the pre-tokenizer, as in llama.cpp.
      options.ignore_merges = pre == "llama-bpe" || pre == "llama3";
      // Qwen2/2.5/3 tokenizer.json normalizes to NFC first (Qwen3.5 does not); GGUF stores no normalizer.
      if (pre == "qwen2") parts.normalizer.add(NormalizerStep{NormalizerStep::Kind::NFC});
      for (const auto& m : string_array(f, "tokenizer.ggml.merges")) {
        size_t space = m.find(' ', 1);
        if (space == std::string::npos) fail("tokenizer.ggml.merges entry \"{}\" has no space", m);
        merges.emplace_back(m.substr(0, space), m.substr(space + 1));
      }
      options.byte_level = true;
      parts.decoder.byte_level = true;
      if (optional_bool(f, "tokenizer.ggml.add_bos_token", false) && parts.bos_id >= 0) parts.prefix_tokens.push_back(parts.bos_id);
    } else if (model == "llama") {
      std::vector<float> scores;
      if (const GGUFValue* v = f.find("tokenizer.ggml.scores"))
        for (const auto& e : v->as_array()) scores.push_back(static_cast<float>(e.as_float()));
      if (scores.size() != n) fail("tokenizer.ggml.scores has {} entries for {} tokens", scores.size(), n);
      merges = merges_from_scores(tokens, scores, types);
      options.byte_level = false;
      options.byte_fallback = true;
      options.unk_id = optional_id(f, "tokenizer.ggml.unknown_token_id", n);
      const bool add_space_prefix = optional_bool(f, "tokenizer.ggml.add_space_prefix", true);
      NormalizerStep replace;
      replace.kind = NormalizerStep::Kind::Replace;
      replace.pattern = " ";
      replace.content = "\xE2\x96\x81";
      if (add_space_prefix) {
        NormalizerStep prepend;
        prepend.kind = NormalizerStep::Kind::Prepend;
        prepend.content = "\xE2\x96\x81";
        parts.normalizer.add(prepend);
      }
      parts.normalizer.add(replace);
      parts.decoder.byte_level = false;
      parts.decoder.byte_fallback = true;
      parts.decoder.space_marker = "\xE2\x96\x81";
      parts.decoder.strip_leading_space = add_space_prefix;
      if (optional_bool(f, "tokenizer.ggml.add_bos_token", true) && parts.bos_id >= 0) parts.prefix_tokens.push_back(parts.bos_id);
    } else {
      fail("tokenizer.ggml.model \"{}\" is not supported (dragon reads \"gpt2\" and \"llama\")", model);
    }
    if (optional_bool(f, "tokenizer.ggml.add_eos_token", false) && parts.eos_id >= 0) parts.suffix_tokens.push_back(parts.eos_id);
    parts.model = std::make_unique<BpeModel>(std::move(tokens), merges, options);
    return std::make_unique<Tokenizer>(std::move(parts));
  });
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model) {
  namespace fs = std::filesystem;
  const std::string path = hub::resolve_model(model);
  if (fs::is_directory(path) || path.ends_with(".json")) return load_tokenizer_files(path);
  auto gguf = GGUFFile::open(path);
  return load_tokenizer_gguf(*gguf);
}

}  // namespace dragon
