// dragon template: renders a chat template the way HF transformers' apply_chat_template does and
// prints the prompt byte for byte — to check what a model will actually be fed.
//   dragon template --model M | --template FILE.jinja [--bos S] [--eos S]
//                   --messages FILE.json [--tools FILE.json] [--no-generation-prompt]
//                   [--var key=json ...]
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/model_template.h"
#include "cli/commands.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

using ojson = nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ojson read_json_file(const std::string& path) {
  try {
    return ojson::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

struct TemplateArgs {
  std::string model, template_file, messages_file, tools_file;
  std::string bos, eos;
  bool no_generation_prompt = false;
  std::vector<std::string> vars;
};

int run_template(const TemplateArgs& a) {
  std::string source, bos = a.bos, eos = a.eos;
  if (!a.model.empty()) {
    chat::ModelTemplate m = chat::load_model_template(a.model);
    source = std::move(m.source);
    if (bos.empty()) bos = m.bos_token;
    if (eos.empty()) eos = m.eos_token;
  } else {
    source = read_file(a.template_file);
  }
  const ojson messages = read_json_file(a.messages_file);
  if (!messages.is_array()) fail("{}: messages must be a JSON array", a.messages_file);
  ojson tools = nullptr;
  if (!a.tools_file.empty()) {
    tools = read_json_file(a.tools_file);
    if (!tools.is_array()) fail("{}: tools must be a JSON array", a.tools_file);
  }
  ojson extra = ojson::object();
  for (const std::string& kv : a.vars) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) fail("--var {}: expected key=json", kv);
    const std::string key = kv.substr(0, eq), text = kv.substr(eq + 1);
    try {
      extra[key] = ojson::parse(text);
    } catch (const nlohmann::json::exception&) {
      extra[key] = text;  // a bare word is a string, as `--var reasoning_effort=high` means
    }
  }
  const chat::ChatTemplate t = chat::ChatTemplate::parse(std::move(source));
  const std::string prompt = t.render(chat::make_chat_context(messages, tools, !a.no_generation_prompt, bos, eos, extra));
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

void register_template(CLI::App& app, const SetRunner& set_runner) {
  auto* cmd = app.add_subcommand("template", "Render a chat template to the exact prompt text (as HF transformers does)");
  auto args = std::make_shared<TemplateArgs>();
  auto* model = cmd->add_option("--model", args->model, "GGUF file or HF directory holding the chat template");
  auto* file = cmd->add_option("--template", args->template_file, "Jinja template file");
  model->excludes(file);
  file->excludes(model);
  cmd->add_option("--bos", args->bos, "bos_token text (default: the model's)");
  cmd->add_option("--eos", args->eos, "eos_token text (default: the model's)");
  cmd->add_option("--messages", args->messages_file, "JSON file: the list of messages")->required();
  cmd->add_option("--tools", args->tools_file, "JSON file: the list of tool definitions");
  cmd->add_flag("--no-generation-prompt", args->no_generation_prompt, "Set add_generation_prompt to false");
  cmd->add_option("--var", args->vars, "Extra template variable key=json (e.g. enable_thinking=false)");
  cmd->callback([set_runner, args] {
    set_runner([args]() -> int {
      if (args->model.empty() && args->template_file.empty()) fail("template: give --model or --template");
      return run_template(*args);
    });
  });
}

}  // namespace dragon::cli
