#include "synth/tokenizer_to_hf.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "io/gguf.h"
#include "tokenizer/pre_tokenizer_presets.h"
#include "util/error.h"
#include "util/utf8.h"

namespace dragon {

using json = nlohmann::json;

namespace {

constexpr int32_t kControl = 3, kUserDefined = 4;

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<float> scores;  // empty for gpt2 vocabs
};

Vocab read_vocab(const GGUFFile& f, const ModelConfig& c) {
  Vocab v;
  for (const GGUFValue& t : f.get("tokenizer.ggml.tokens").as_array()) v.tokens.push_back(t.as_string());
  if (const GGUFValue* types = f.find("tokenizer.ggml.token_type"))
    for (const GGUFValue& t : types->as_array()) v.types.push_back(static_cast<int32_t>(t.as_int()));
  if (const GGUFValue* scores = f.find("tokenizer.ggml.scores"))
    for (const GGUFValue& s : scores->as_array()) v.scores.push_back(static_cast<float>(s.as_float()));
  v.types.resize(v.tokens.size(), 1);
  if (static_cast<int64_t>(v.tokens.size()) > c.vocab_size)
    fail("{}: {} tokens, more than the model's vocab_size {}", f.path(), v.tokens.size(), c.vocab_size);
  return v;
}

std::optional<int64_t> opt_id(const GGUFFile& f, const char* key) {
  const GGUFValue* v = f.find(key);
  return v ? std::optional<int64_t>(v->as_int()) : std::nullopt;
}

bool opt_bool(const GGUFFile& f, const char* key, bool fallback) {
  const GGUFValue* v = f.find(key);
  return v ? v->as_bool() : fallback;
}

json added_tokens(const Vocab& v) {
  json added = json::array();
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.types[id] != kControl && v.types[id] != kUserDefined) continue;
    added.push_back({{"id", id},
                     {"content", v.tokens[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", v.types[id] == kControl}});
  }
  return added;
}

json vocab_object(const Vocab& v) {
  json vocab = json::object();
  for (size_t id = 0; id < v.tokens.size(); ++id) vocab[v.tokens[id]] = id;
  return vocab;
}

// Prepends BOS / appends EOS as llama.cpp's add_bos_token / add_eos_token do.
json post_processor(const Vocab& v, std::optional<int64_t> bos, bool add_bos, std::optional<int64_t> eos,
                    bool add_eos) {
  json single = json::array(), pair = json::array(), specials = json::object();
  auto special = [&](int64_t id) {
    const std::string& text = v.tokens.at(static_cast<size_t>(id));
    specials[text] = {{"id", text}, {"ids", {id}}, {"tokens", {text}}};
    return json{{"SpecialToken", {{"id", text}, {"type_id", 0}}}};
  };
  auto sequence = [](const char* which) { return json{{"Sequence", {{"id", which}, {"type_id", 0}}}}; };
  if (add_bos && bos) single.push_back(special(*bos));
  single.push_back(sequence("A"));
  if (add_eos && eos) single.push_back(special(*eos));
  pair = single;
  if (add_bos && bos) pair.push_back(special(*bos));
  pair.push_back(sequence("B"));
  if (add_eos && eos) pair.push_back(special(*eos));
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

// HF's SentencePieceExtractor.extract with scores: every split of a piece into two pieces of the
// vocab is a merge; a piece's splits are ordered by the halves' ids, then all merges by the
// merged piece's score, best first (a stable sort, as Python's sorted is).
json spm_merges(const Vocab& v) {
  std::unordered_map<std::string, int64_t> id_of;
  for (size_t i = 0; i < v.tokens.size(); ++i) id_of.emplace(v.tokens[i], static_cast<int64_t>(i));
  struct Merge { int64_t left, right; float score; };
  std::vector<Merge> merges;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const std::string& piece = v.tokens[i];
    std::vector<Merge> local;
    // Split points at code-point boundaries (Python slices str by code point).
    for (size_t at = 1; at < piece.size(); ++at) {
      if ((static_cast<unsigned char>(piece[at]) & 0xC0) == 0x80) continue;  // inside a UTF-8 sequence
      auto l = id_of.find(piece.substr(0, at)), r = id_of.find(piece.substr(at));
      if (l != id_of.end() && r != id_of.end()) local.push_back({l->second, r->second, v.scores.at(i)});
    }
    std::sort(local.begin(), local.end(),
              [](const Merge& a, const Merge& b) { return std::tie(a.left, a.right) < std::tie(b.left, b.right); });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  json out = json::array();
  for (const Merge& m : merges) out.push_back(json::array({v.tokens[m.left], v.tokens[m.right]}));
  return out;
}

json gpt2_tokenizer(const GGUFFile& f, const Vocab& v) {
  const std::string pre = f.find("tokenizer.ggml.pre") ? f.get("tokenizer.ggml.pre").as_string() : "default";
  const auto regexes = pre_tokenizer_regexes(pre);
  if (!regexes) fail("{}: no pre-tokenizer known for tokenizer.ggml.pre \"{}\"", f.path(), pre);
  json pretokenizers = json::array();
  for (const std::string& re : *regexes)
    pretokenizers.push_back(
        {{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
  pretokenizers.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});

  json merges = json::array();
  if (const GGUFValue* m = f.find("tokenizer.ggml.merges"))
    for (const GGUFValue& s : m->as_array()) merges.push_back(s.as_string());

  json tj;
  tj["normalizer"] = pre == "qwen2" ? json{{"type", "NFC"}} : json();
  tj["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", pretokenizers}};
  tj["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  tj["model"] = {{"type", "BPE"},           {"dropout", nullptr},          {"unk_token", nullptr},
                 {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""}, {"fuse_unk", false},
                 {"byte_fallback", false},  {"ignore_merges", false},      {"vocab", vocab_object(v)},
                 {"merges", merges}};
  return tj;
}

json spm_tokenizer(const GGUFFile& f, const Vocab& v) {
  if (v.scores.size() != v.tokens.size()) fail("{}: a llama vocab needs tokenizer.ggml.scores for every token", f.path());
  const bool add_space_prefix = opt_bool(f, "tokenizer.ggml.add_space_prefix", true);
  json normalizers = json::array();
  if (add_space_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", "▁"}});
  normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}});
  json decoders = json::array({
      {{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
      {{"type", "ByteFallback"}},
      {{"type", "Fuse"}},
  });
  if (add_space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  const auto unk = opt_id(f, "tokenizer.ggml.unknown_token_id");

  json tj;
  tj["normalizer"] = {{"type", "Sequence"}, {"normalizers", normalizers}};
  tj["pre_tokenizer"] = nullptr;
  tj["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  tj["model"] = {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", unk ? json(v.tokens.at(static_cast<size_t>(*unk))) : json()},
                 {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr},
                 {"fuse_unk", true},
                 {"byte_fallback", true},
                 {"ignore_merges", false},
                 {"vocab", vocab_object(v)},
                 {"merges", spm_merges(v)}};
  return tj;
}

}  // namespace

TokenizerFiles hf_tokenizer_from_gguf(const GGUFFile& f, const ModelConfig& c) {
  const std::string model = f.get("tokenizer.ggml.model").as_string();
  const Vocab v = read_vocab(f, c);
  json tj;
  if (model == "gpt2") tj = gpt2_tokenizer(f, v);
  else if (model == "llama") tj = spm_tokenizer(f, v);
  else fail("{}: tokenizer.ggml.model \"{}\" cannot be written as an HF tokenizer (gpt2 and llama can)", f.path(), model);

  const auto bos = opt_id(f, "tokenizer.ggml.bos_token_id"), eos = opt_id(f, "tokenizer.ggml.eos_token_id");
  const auto pad = opt_id(f, "tokenizer.ggml.padding_token_id"), unk = opt_id(f, "tokenizer.ggml.unknown_token_id");
  // llama.cpp's default for SentencePiece vocabs is to add BOS; for BPE it is not.
  const bool add_bos = opt_bool(f, "tokenizer.ggml.add_bos_token", model == "llama");
  const bool add_eos = opt_bool(f, "tokenizer.ggml.add_eos_token", false);
  for (auto id : {bos, eos, pad, unk})
    if (id && (*id < 0 || *id >= static_cast<int64_t>(v.tokens.size())))
      fail("{}: special token id {} outside the vocabulary", f.path(), *id);

  TokenizerFiles files;
  files.tokenizer_json = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
                          {"added_tokens", added_tokens(v)}};
  for (auto& [key, value] : tj.items()) files.tokenizer_json[key] = value;
  files.tokenizer_json["post_processor"] = post_processor(v, bos, add_bos, eos, add_eos);

  json& tc = files.tokenizer_config_json;
  auto text = [&](std::optional<int64_t> id) { return id ? json(v.tokens[static_cast<size_t>(*id)]) : json(); };
  tc = {{"add_bos_token", add_bos},  {"add_eos_token", add_eos},     {"bos_token", text(bos)},
        {"eos_token", text(eos)},    {"pad_token", text(pad)},       {"unk_token", text(unk)},
        {"clean_up_tokenization_spaces", false}, {"model_max_length", c.context_length},
        {"tokenizer_class", "PreTrainedTokenizerFast"}};
  if (const GGUFValue* tmpl = f.find("tokenizer.chat_template")) tc["chat_template"] = tmpl->as_string();
  return files;
}

}  // namespace dragon
