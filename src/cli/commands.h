// Each subcommand lives in its own file and registers itself here: it declares its options on
// a CLI11 subcommand and returns the function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dragon::cli {

// Runs a parsed subcommand; returns the process exit code. Throws dragon::Error on failure,
// which main() reports once, as "dragon: error: ...", with exit code 1.
using Runner = std::function<int()>;

// `set_runner` is called with the subcommand's runner when that subcommand was given.
using SetRunner = std::function<void(Runner)>;

// Subcommand files added later register themselves with one line at namespace scope, so that
// several can be written at once without touching main.cc:
//   const CommandRegistration kServe{"serve", register_serve};
// main() adds them after the built-in ones, in name order.
using RegisterFn = void (*)(CLI::App& app, const SetRunner& set_runner);
struct CommandRegistration {
  CommandRegistration(const char* name, RegisterFn fn);
};
std::vector<std::pair<std::string, RegisterFn>>& registered_commands();

void register_info(CLI::App& app, const SetRunner& set_runner);
void register_synth(CLI::App& app, const SetRunner& set_runner);
void register_tokenize(CLI::App& app, const SetRunner& set_runner);
void register_template(CLI::App& app, const SetRunner& set_runner);
void register_logits(CLI::App& app, const SetRunner& set_runner);
void register_generate(CLI::App& app, const SetRunner& set_runner);
void register_run(CLI::App& app, const SetRunner& set_runner);

}  // namespace dragon::cli
