// Encoding arbitrary bytes with the real Qwen3 and DeepSeek-V3 tokenizers (byte-level BPE, their
// pre-tokenizer regexes, added / special tokens), then decoding the ids back. The first byte picks
// the tokenizer and the flags. Every id must be in the vocabulary, and for valid UTF-8 text
// without special tokens parsed, decoding must give the text back (both are byte-level BPE
// with no lossy normalization of such input... except NFC, so compare only for ASCII).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

using namespace dragon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> qwen3 = load_tokenizer((test::tokenizers_dir() / "qwen3").string());
  static const std::unique_ptr<Tokenizer> deepseek = load_tokenizer((test::tokenizers_dir() / "deepseek-v3").string());
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Tokenizer& tok = (flags & 1) ? *deepseek : *qwen3;
  const bool add_special = flags & 2, parse_special = flags & 4;
  fuzz::expect_clean_errors([&] {
    const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.n_vocab()) fuzz::finding("encode returned an id outside the vocabulary");
    const std::string back = tok.decode(ids, /*skip_special_tokens=*/false);
    bool ascii = true;
    for (char c : text) ascii = ascii && (uint8_t(c) < 0x80);
    if (ascii && !add_special && back != text) fuzz::finding("decode(encode(text)) != text for ASCII text");
  });
  return 0;
}
