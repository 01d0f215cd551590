// tokenizer.json -> Tokenizer (model, merges, added tokens, normalizer, pre-tokenizer,
// post-processor, decoder), then encoding and decoding a fixed text with what was loaded. Bad
// input must be dragon::Error (or a JSON error, which load_tokenizer_files turns into one).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "tokenizer/tokenizer.h"

using namespace dragon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json tj;
  try {
    tj = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
  fuzz::expect_clean_errors([&] {
    std::unique_ptr<Tokenizer> tok;
    try {
      tok = load_tokenizer_json(tj, nullptr);
    } catch (const nlohmann::json::exception&) {
      return;  // load_tokenizer_files reports it as "malformed tokenizer: ..."
    }
    for (const char* text : {"Hello, world! 你好 <|im_start|> 123\n\n  x", "", "\xff\xfe"}) {
      const std::vector<int32_t> ids = tok->encode(text);
      for (int32_t id : ids)
        if (id < 0 || id >= tok->n_vocab()) fuzz::finding("encode returned an id outside the vocabulary");
      (void)tok->decode(ids, true);
    }
  });
  return 0;
}
