// dragon ls: the models in the local cache with their sizes.
#include <fmt/format.h>

#include "cli/commands.h"
#include "hub/hub.h"

namespace dragon::cli {

namespace {

std::string size_text(double n) {
  if (n >= 1 << 30) return fmt::format("{:.2f} GiB", n / (1 << 30));
  if (n >= 1 << 20) return fmt::format("{:.1f} MiB", n / (1 << 20));
  if (n >= 1 << 10) return fmt::format("{:.1f} KiB", n / (1 << 10));
  return fmt::format("{:.0f} B", n);
}

int run_ls() {
  const auto models = hub::list_cached();
  if (models.empty()) {
    fmt::print(stderr, "no models in {} (try `dragon pull ORG/NAME`)\n", hub::models_root().string());
    return 0;
  }
  for (const auto& m : models)
    fmt::print("{:<48} {:>10}{}\n", m.name, size_text(double(m.bytes)), m.complete ? "" : "  (incomplete: run dragon pull again)");
  return 0;
}

void register_ls(CLI::App& app, const SetRunner& set_runner) {
  CLI::App* cmd = app.add_subcommand("ls", "list the models in the local cache and their sizes");
  cmd->callback([set_runner] { set_runner([] { return run_ls(); }); });
}

}  // namespace

const CommandRegistration kLs{"ls", register_ls};

}  // namespace dragon::cli
