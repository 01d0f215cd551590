#include "convert/quantize_gguf.h"

#include <fmt/format.h>

#include "convert/progress_bar.h"
#include "io/gguf.h"
#include "synth/synth.h"
#include "tensor/dequantize.h"
#include "tensor/quantize.h"
#include "util/error.h"

namespace dragon::convert {

QuantizeReport quantize_gguf(const std::string& in, const std::string& out, DType type) {
  const auto file = GGUFFile::open(in);
  GGUFWriter w(uint32_t(file->alignment()));
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  w.set("general.file_type", GGUFValue::u32(gguf_file_type(type)));
  if (dtype_is_quantized(type)) w.set("general.quantization_version", GGUFValue::u32(2));

  QuantizeReport report;
  std::vector<DType> types;
  for (const TensorView& t : file->tensors()) {
    const bool matrix = t.shape.size() >= 2 && t.name.ends_with("weight");
    const DType to = matrix ? gguf_tensor_type(type, t.row_elems()) : t.dtype;
    types.push_back(to);
    w.add_tensor(t.name, to, t.shape);
    ++report.tensors;
    report.bytes_in += t.nbytes;
  }
  ProgressBar bar(report.bytes_in);
  uint64_t done = 0;
  w.write(out, [&](size_t i) {
    const TensorView& t = file->tensors().at(i);
    bar.update(done, fmt::format("[{}/{}] {} -> {}", i + 1, file->tensors().size(), t.name, dtype_name(types[i])));
    done += t.nbytes;
    std::vector<uint8_t> bytes;
    if (types[i] == t.dtype) {
      bytes.assign(t.data, t.data + t.nbytes);  // already the wanted type: copied, not re-rounded
    } else {
      if (!can_dequantize(t.dtype)) fail("{}: tensor {}: cannot read type {}", in, t.name, dtype_name(t.dtype));
      const std::vector<float> values = dequantize_tensor(t);
      const int64_t cols = t.row_elems();
      bytes = quantize_tensor(types[i], values.data(), cols ? t.numel() / cols : 0, cols);
      ++report.requantized;
    }
    report.bytes_out += bytes.size();
    return bytes;
  });
  bar.update(done, "done");
  bar.finish();
  return report;
}

}  // namespace dragon::convert
