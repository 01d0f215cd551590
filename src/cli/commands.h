// Each subcommand lives in its own file and registers itself here: it declares its options on
// a CLI11 subcommand and returns the function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace dragon::cli {

// Runs a parsed subcommand; returns the process exit code. Throws dragon::Error on failure,
// which main() reports once, as "dragon: error: ...", with exit code 1.
using Runner = std::function<int()>;

// `set_runner` is called with the subcommand's runner when that subcommand was given.
using SetRunner = std::function<void(Runner)>;

void register_info(CLI::App& app, const SetRunner& set_runner);
void register_synth(CLI::App& app, const SetRunner& set_runner);
void register_tokenize(CLI::App& app, const SetRunner& set_runner);
void register_template(CLI::App& app, const SetRunner& set_runner);
void register_logits(CLI::App& app, const SetRunner& set_runner);
void register_generate(CLI::App& app, const SetRunner& set_runner);
void register_run(CLI::App& app, const SetRunner& set_runner);

}  // namespace dragon::cli
