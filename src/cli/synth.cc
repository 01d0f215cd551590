// Placeholder until the foundation's synth command lands.
#include "cli/commands.h"
#include "util/error.h"

namespace dragon::cli {
void register_synth(CLI::App& app, const SetRunner& set_runner) {
  auto* cmd = app.add_subcommand("synth", "(not yet implemented)");
  cmd->callback([set_runner] { set_runner([]() -> int { dragon::fail("synth: not implemented yet"); }); });
}
}  // namespace dragon::cli
