// dragon rm ORG/NAME: delete a model from the local cache.
#include <fmt/format.h>

#include "cli/commands.h"
#include "hub/hub.h"

namespace dragon::cli {

namespace {

void register_rm(CLI::App& app, const SetRunner& set_runner) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("rm", "delete a model from the local cache");
  cmd->add_option("model", *model, "ORG/NAME as shown by `dragon ls`")->required();
  cmd->callback([model, set_runner] { set_runner([model] {
    const hub::ModelName name = hub::parse_model_name(*model);
    hub::remove_cached(name);
    fmt::print(stderr, "removed {}\n", name.repo());
    return 0;
  }); });
}

}  // namespace

const CommandRegistration kRm{"rm", register_rm};

}  // namespace dragon::cli
