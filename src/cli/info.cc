// Placeholder until the foundation's info command lands.
#include "cli/commands.h"
#include "util/error.h"

namespace dragon::cli {
void register_info(CLI::App& app, const SetRunner& set_runner) {
  auto* cmd = app.add_subcommand("info", "(not yet implemented)");
  cmd->callback([set_runner] { set_runner([]() -> int { dragon::fail("info: not implemented yet"); }); });
}
}  // namespace dragon::cli
