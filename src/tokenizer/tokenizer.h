// A tokenizer: added-token matching, normalization, pre-tokenization, BPE, post-processing
// (BOS/EOS) and decoding — the pipeline HF tokenizers run, loaded from tokenizer.json or from a
// GGUF file's tokenizer.ggml.* metadata, so that both give the same ids.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace dragon {

// How ids become text again.
struct DecoderSpec {
  bool byte_level = true;            // tokens are spelled in GPT-2's byte alphabet
  std::string space_marker;          // SentencePiece: "▁" becomes " " (empty = none)
  bool byte_fallback = false;        // <0xNN> tokens are raw bytes
  bool strip_leading_space = false;  // drop one leading space of the decoded text (SentencePiece prefix)
};

struct TokenizerParts {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::vector<AddedToken> added_tokens;
  std::vector<int32_t> prefix_tokens;  // added when add_special_tokens (e.g. BOS)
  std::vector<int32_t> suffix_tokens;  // e.g. EOS
  DecoderSpec decoder;
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;
  std::string chat_template;
};

class Tokenizer {
 public:
  explicit Tokenizer(TokenizerParts parts);

  // Text (any bytes: invalid UTF-8 is replaced like Python's errors="replace") -> ids.
  // add_special_tokens adds the BOS/EOS the model expects; parse_special = false leaves special
  // tokens spelled in the text as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true, bool parse_special = true) const;
  // Ids -> bytes (UTF-8 unless the ids split a character). Throws dragon::Error for an id out of range.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  // The bytes one token contributes in the middle of a text.
  std::string token_bytes(int32_t id) const;

  int32_t n_vocab() const { return n_vocab_; }
  const std::string& token_text(int32_t id) const;  // as spelled in the vocabulary
  std::optional<int32_t> token_id(std::string_view spelling) const;
  bool is_special(int32_t id) const;
  int32_t bos_id() const { return parts_.bos_id; }
  int32_t eos_id() const { return parts_.eos_id; }
  int32_t pad_id() const { return parts_.pad_id; }
  const std::string& chat_template() const { return parts_.chat_template; }
  const std::vector<AddedToken>& added_tokens() const { return parts_.added_tokens; }
  bool adds_prefix_tokens() const { return !parts_.prefix_tokens.empty(); }

 private:
  void encode_text(std::string_view text, bool first_segment, bool parse_special, std::vector<int32_t>& out) const;

  TokenizerParts parts_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  std::vector<int32_t> added_by_id_;  // index into added_tokens per id, or -1
  int32_t n_vocab_ = 0;
};

// Loaders. `tokenizer_config` may be null (then BOS/EOS come from tokenizer.json's post-processor only).
std::unique_ptr<Tokenizer> load_tokenizer_json(const nlohmann::json& tokenizer_json, const nlohmann::json& tokenizer_config);
// From files: a tokenizer.json path, or a directory holding tokenizer.json (+ tokenizer_config.json).
std::unique_ptr<Tokenizer> load_tokenizer_files(const std::string& path);

class GGUFFile;
std::unique_ptr<Tokenizer> load_tokenizer_gguf(const GGUFFile& file);

// Loads from whatever `path` is: a GGUF file, an HF model directory, or a tokenizer.json.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace dragon
