// A safetensors file: the 8-byte header length, the JSON header (dtypes, shapes, data_offsets,
// __metadata__). A malformed file must give dragon::Error and every view must lie inside the file.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "io/safetensors.h"

using namespace dragon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_dir() / "model.safetensors";
  fuzz::write_file(path, {reinterpret_cast<const char*>(data), size});
  fuzz::expect_clean_errors([&] {
    std::unique_ptr<SafetensorsFile> file = SafetensorsFile::open(path.string());
    fuzz::check_inside(file->tensors(), path);
    for (const TensorView& t : file->tensors())
      if (file->find_tensor(t.name) != &t) fuzz::finding("find_tensor does not find " + t.name);
  });
  return 0;
}
