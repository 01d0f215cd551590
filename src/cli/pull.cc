// dragon pull ORG/NAME[:FILE]: download a model from Hugging Face or ModelScope into the cache
// ($DRAGON_HOME/models, default ~/.cache/dragon/models), resuming interrupted downloads.
#include <fmt/format.h>

#include "cli/commands.h"
#include "hub/hub.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

struct PullArgs {
  std::string model, source = "hf", revision, endpoint;
};

int run_pull(const PullArgs& a) {
  hub::PullOptions o;
  o.source = a.source == "modelscope" ? hub::Source::ModelScope : hub::Source::HuggingFace;
  if (!a.revision.empty()) o.revision = a.revision;
  o.endpoint = a.endpoint;
  const hub::ModelName name = hub::parse_model_name(a.model);
  const hub::PullResult r = hub::pull(name, o);
  fmt::print("{}\n", hub::resolve_model(a.model));
  fmt::print(stderr, "pulled {}: {} file(s) downloaded, {} bytes fetched, {} bytes resumed from earlier parts\n", name.repo(), r.files,
             r.fetched, r.resumed);
  return 0;
}

void register_pull(CLI::App& app, const SetRunner& set_runner) {
  auto a = std::make_shared<PullArgs>();
  CLI::App* cmd = app.add_subcommand("pull", "download a model from Hugging Face or ModelScope into the local cache");
  cmd->footer(
      "Examples:\n"
      "  dragon pull Qwen/Qwen3-0.6B\n"
      "  dragon pull Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0.gguf\n"
      "  dragon pull Qwen/Qwen3-0.6B --source modelscope\n"
      "  HF_ENDPOINT=https://hf-mirror.com dragon pull Qwen/Qwen3-0.6B\n"
      "The cache is $DRAGON_HOME/models (default ~/.cache/dragon/models); pulled names work as MODEL.");
  cmd->add_option("model", a->model, "ORG/NAME[:FILE]")->required();
  cmd->add_option("--source", a->source, "hf (default) or modelscope")->check(CLI::IsMember({"hf", "modelscope"}));
  cmd->add_option("--revision", a->revision, "branch, tag or commit (default main; master on ModelScope)");
  cmd->add_option("--endpoint", a->endpoint, "hub URL (default $HF_ENDPOINT or https://huggingface.co)");
  cmd->callback([a, set_runner] { set_runner([a] { return run_pull(*a); }); });
}

}  // namespace

const CommandRegistration kPull{"pull", register_pull};

}  // namespace dragon::cli
