// dragon synth: write a synthetic model (random weights, real shapes) — see src/synth/synth.h.
#include <fmt/format.h>

#include "cli/commands.h"
#include "synth/preset.h"
#include "synth/synth.h"
#include "util/error.h"

namespace dragon::cli {

void register_synth(CLI::App& app, const SetRunner& set_runner) {
  auto* cmd = app.add_subcommand("synth", "Write a synthetic model: random weights with a real release's config");
  struct Args {
    SynthOptions options;
    bool list = false;
  };
  auto args = std::make_shared<Args>();
  SynthOptions& o = args->options;
  cmd->add_option("preset", o.preset, "Preset name (see --list)");
  cmd->add_flag("--list", args->list, "List the presets");
  cmd->add_option("--format", o.format, "gguf or hf")->capture_default_str();
  cmd->add_option("--dtype", o.dtype, "f32, f16, bf16, q8_0 (gguf), q4_k (gguf) or fp8 (hf)")->capture_default_str();
  cmd->add_option("--layers", o.layers, "Override num_hidden_layers (per-layer lists are truncated)");
  cmd->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  cmd->add_option("--set", o.sets, "Override a config key: KEY=VALUE (JSON or string; dotted keys reach into objects)");
  cmd->add_option("--out", o.out, "Output GGUF file or HF directory");
  cmd->add_option("--name", o.name, "GGUF general.name (default: the preset name)");
  cmd->add_option("--description", o.description, "GGUF general.description");
  cmd->add_option("--tokenizer-dir", o.tokenizer_dir, "Tokenizer files (default: $DRAGON_TOKENIZERS or <binary dir>/share/tokenizers)");

  cmd->callback([set_runner, args] {
    set_runner([args]() -> int {
      if (args->list) {
        for (const Preset& p : all_presets()) fmt::print("{:<24} {:<40} tokenizer {}\n", p.name, p.hf_repo, p.tokenizer);
        return 0;
      }
      if (args->options.preset.empty()) fail("synth: a preset name is required (dragon synth --list shows them)");
      fmt::print("{}\n", synthesize(args->options));
      return 0;
    });
  });
}

}  // namespace dragon::cli
