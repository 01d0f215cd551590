// dragon quantize IN.gguf OUT.gguf TYPE: re-encode a GGUF's weight matrices to another type.
#include <fmt/format.h>

#include "cli/commands.h"
#include "convert/quantize_gguf.h"
#include "tensor/dtype.h"
#include "tensor/quantize.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

struct QuantizeArgs {
  std::string in, out, type;
};

int run_quantize(const QuantizeArgs& a) {
  std::string lower;
  for (char c : a.type) lower += char(std::tolower(static_cast<unsigned char>(c)));
  const auto type = dtype_from_name(lower);
  if (!type || !can_quantize(*type)) fail("quantize TYPE '{}': unknown (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k)", a.type);
  const auto r = convert::quantize_gguf(a.in, a.out, *type);
  fmt::print(stderr, "wrote {}: {} tensors ({} requantized to {}), {} -> {} bytes\n", a.out, r.tensors, r.requantized, lower, r.bytes_in,
             r.bytes_out);
  return 0;
}

void register_quantize(CLI::App& app, const SetRunner& set_runner) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "re-encode a GGUF's weight matrices to another type (GGUF -> GGUF)");
  cmd->footer("Example:\n  dragon quantize model-f32.gguf model-q8_0.gguf q8_0");
  cmd->add_option("in", a->in, "input GGUF")->required();
  cmd->add_option("out", a->out, "output GGUF")->required();
  cmd->add_option("type", a->type, "f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k")->required();
  cmd->callback([a, set_runner] { set_runner([a] { return run_quantize(*a); }); });
}

}  // namespace

const CommandRegistration kQuantize{"quantize", register_quantize};

}  // namespace dragon::cli
