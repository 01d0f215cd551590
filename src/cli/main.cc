// dragon: one binary, many subcommands. This file only wires them together and reports errors.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>

#include "cli/commands.h"
#include "util/error.h"

namespace dragon::cli {

std::vector<std::pair<std::string, RegisterFn>>& registered_commands() {
  static std::vector<std::pair<std::string, RegisterFn>> commands;  // built before main, in any TU order
  return commands;
}

CommandRegistration::CommandRegistration(const char* name, RegisterFn fn) { registered_commands().emplace_back(name, fn); }

}  // namespace dragon::cli

int main(int argc, char** argv) {
  CLI::App app{"dragon: a private, self-hosted inference engine for open-weight LLMs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dragon 0.1.0");

  dragon::cli::Runner runner;
  const dragon::cli::SetRunner set_runner = [&](dragon::cli::Runner r) { runner = std::move(r); };
  dragon::cli::register_info(app, set_runner);
  dragon::cli::register_synth(app, set_runner);
  dragon::cli::register_tokenize(app, set_runner);
  dragon::cli::register_template(app, set_runner);
  dragon::cli::register_logits(app, set_runner);
  dragon::cli::register_generate(app, set_runner);
  dragon::cli::register_run(app, set_runner);
  auto& more = dragon::cli::registered_commands();
  std::sort(more.begin(), more.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [name, fn] : more) fn(app, set_runner);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return runner ? runner() : 0;
  } catch (const dragon::Error& e) {
    fmt::print(stderr, "dragon: error: {}\n", e.what());
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "dragon: error: out of memory\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "dragon: internal error: {}\n", e.what());
  }
  return 1;
}
