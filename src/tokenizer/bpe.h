// The BPE model: a vocabulary and a ranked list of merges. A piece is first split into symbols
// (bytes through GPT-2's alphabet for byte-level vocabularies; Unicode characters otherwise, with
// SentencePiece's <0xNN> byte fallback), then the adjacent pair with the lowest merge rank is
// merged until no ranked pair remains.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dragon {

class BpeModel {
 public:
  struct Options {
    bool byte_level = true;     // symbols are bytes spelled in GPT-2's alphabet
    bool byte_fallback = false; // unknown characters become <0xNN> tokens
    bool ignore_merges = false; // a piece that is itself a token is emitted whole (Llama-3)
    int32_t unk_id = -1;        // for characters with no token and no byte fallback; -1 = drop
  };

  // `tokens[i]` is the spelling of id i (as in tokenizer.json / GGUF); `merges` are pairs of
  // spellings in rank order. Throws dragon::Error for a merge whose parts or result are not in
  // the vocabulary.
  BpeModel(std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
           Options options);

  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  size_t size() const { return tokens_.size(); }
  const std::string& token(int32_t id) const { return tokens_[static_cast<size_t>(id)]; }
  std::optional<int32_t> find(std::string_view spelling) const;
  const Options& options() const { return options_; }

 private:
  struct Merge { int32_t rank; int32_t result; };
  static uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
  void initial_symbols(std::string_view piece, std::vector<int32_t>& symbols) const;
  void merge(std::vector<int32_t>& symbols) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, Merge> merges_;
  Options options_;
  int32_t byte_ids_[256];  // byte-level: id of each byte's character; byte fallback: <0xNN>

  // Pieces repeat a lot in real text; their encodings are cached (bounded).
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace dragon
