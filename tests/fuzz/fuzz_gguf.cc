// GGUF files: the reader (header, every metadata type, tensor infos, offsets), the normalized
// config and architecture check (open_gguf_model), and the GGUF tokenizer loader. A malformed file
// must give dragon::Error, and every tensor view must lie inside the file.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "io/gguf.h"
#include "models/model_file.h"
#include "tokenizer/tokenizer.h"

using namespace dragon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_dir() / "input.gguf";
  fuzz::write_file(path, {reinterpret_cast<const char*>(data), size});
  fuzz::expect_clean_errors([&] {
    std::unique_ptr<GGUFFile> file = GGUFFile::open(path.string());
    fuzz::check_inside(file->tensors(), path);
    for (const auto& [key, value] : file->metadata()) (void)value.to_display_string();
    fuzz::expect_clean_errors([&] {
      std::unique_ptr<Tokenizer> tok = load_tokenizer_gguf(*file);
      const std::vector<int32_t> ids = tok->encode("Hello, 世界! <think>\n\t123");
      for (int32_t id : ids)
        if (id < 0 || id >= tok->n_vocab()) fuzz::finding("encode returned an id outside the vocabulary");
      (void)tok->decode(ids);
    });
    OpenedModel m = open_gguf_model(std::move(file));
    fuzz::check_inside(m.tensors, path);
  });
  return 0;
}
