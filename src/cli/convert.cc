// dragon convert HF_DIR --out F.gguf --type f32|f16|bf16|q8_0|q6_k|q4_k_m
#include <fmt/format.h>

#include "cli/commands.h"
#include "convert/hf_to_gguf.h"
#include "convert/progress_bar.h"

namespace dragon::cli {

namespace {

int run_convert(const ConvertOptions& o) {
  const ConvertReport r = convert_hf_to_gguf(o);
  std::string mix;
  for (const auto& [type, count] : r.tensors_by_type) mix += fmt::format("{}{} {}", mix.empty() ? "" : ", ", count, type);
  fmt::print(stderr, "wrote {}: {} {}, {} tensors ({}), {} -> {}\n", o.out, r.arch, o.type, r.tensors, mix,
             human_bytes(double(r.bytes_in)), human_bytes(double(r.bytes_out)));
  return 0;
}

void register_convert(CLI::App& app, const SetRunner& set_runner) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "convert a Hugging Face model directory (incl. FP8) to GGUF");
  cmd->footer(
      "Examples:\n"
      "  dragon convert ~/models/Qwen3-0.6B --out qwen3-0.6b-q4_k_m.gguf --type q4_k_m\n"
      "  dragon convert ./DeepSeek-V3 --out dsv3-q8_0.gguf --type q8_0    # FP8 checkpoints too\n"
      "Types: f32, f16, bf16, q8_0 (one type for every weight matrix), q6_k, q4_k_m (llama.cpp's mixes).");
  cmd->add_option("hf_dir", o->hf_dir, "HF model directory: config.json, *.safetensors, tokenizer.json")->required();
  cmd->add_option("--out,-o", o->out, "output GGUF file")->required();
  cmd->add_option("--type", o->type, "f32, f16, bf16, q8_0, q6_k, q4_k_m (default f16)");
  cmd->add_option("--name", o->name, "general.name (default: the directory's name)");
  cmd->callback([o, set_runner] { set_runner([o] { return run_convert(*o); }); });
}

}  // namespace

const CommandRegistration kConvert{"convert", register_convert};

}  // namespace dragon::cli
