// Parity of the C++ Jinja engine with python3-jinja2 in HF's configuration, on the real chat
// templates of the supported families: every conversation of a deterministic corpus must render
// byte-identical, or fail in both. DRAGON_TEMPLATE_PARITY_COUNT sets the corpus size
// (tests/chat/full_parity.sh runs the full one); DRAGON_TEMPLATE_PARITY_ALL=1 adds every other
// template in llama.cpp's collection.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon::chat {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const char* kFamilyTemplates[] = {
    "Qwen-Qwen2.5-7B-Instruct.jinja", "Qwen-Qwen3-0.6B.jinja", "Qwen-QwQ-32B.jinja", "Qwen3-Coder.jinja", "Qwen3.5-4B.jinja",
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    "deepseek-ai-DeepSeek-V3.1.jinja", "deepseek-ai-DeepSeek-V3.2.jinja", "deepseek-ai-DeepSeek-V4.jinja",
    "deepseek-ai-DeepSeek-V4-Flash-0731.jinja", "llama-cpp-deepseek-r1.jinja", "Kimi-K2-Instruct.jinja", "Kimi-K2-Thinking.jinja",
    "moonshotai-Kimi-K2.jinja", "Kimi-K3.jinja", "GLM-4.6.jinja", "GLM-4.7-Flash.jinja", "MiniMax-M1.jinja", "MiniMax-M2.jinja",
    "MiniMax-M3.jinja", "tencent-Hy3.jinja", "openbmb-MiniCPM5-1B.jinja",
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string template_source(const fs::path& p) {
  if (p.extension() == ".json") {
    const ojson config = ojson::parse(read_file(p));
    return config.at("chat_template").get<std::string>();
  }
  return read_file(p);
}

int run(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc;
}

std::vector<fs::path> templates_under_test() {
  std::vector<fs::path> out;
  const fs::path dir = test::llama_cpp_dir() / "models" / "templates";
  for (const char* name : kFamilyTemplates)
    if (fs::exists(dir / name)) out.push_back(dir / name);
  if (const char* all = std::getenv("DRAGON_TEMPLATE_PARITY_ALL"); all && std::string(all) == "1") {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".jinja" && std::find(out.begin(), out.end(), e.path()) == out.end()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
  }
  for (const char* tok : {"qwen3", "deepseek-v3"}) {
    const fs::path p = test::tokenizers_dir() / tok / "tokenizer_config.json";
    if (fs::exists(p)) out.push_back(p);
  }
  return out;
}

TEST(ChatTemplateParity, RealTemplatesMatchPythonJinja2) {
  const char* count_env = std::getenv("DRAGON_TEMPLATE_PARITY_COUNT");
  const int count = count_env ? std::atoi(count_env) : 40;
  const std::vector<fs::path> templates = templates_under_test();
  if (templates.size() < 10) FAIL() << "templates not found under " << test::llama_cpp_dir() << " (run scripts/setup.sh)";

  const fs::path work = fs::temp_directory_path() / ("dragon_template_parity_" + std::to_string(::getpid()));
  fs::create_directories(work);
  const fs::path contexts_path = work / "contexts.json", reference_path = work / "reference.json";
  const fs::path scripts = test::source_dir() / "tests" / "chat";
  ASSERT_EQ(run("/usr/bin/python3 " + (scripts / "conversations.py").string() + " " + std::to_string(count) + " > " +
                contexts_path.string()),
            0);
  std::string command = "/usr/bin/python3 " + (scripts / "render_reference.py").string() + " --batch " + contexts_path.string() +
                        " " + reference_path.string();
  for (const auto& t : templates) command += " '" + t.string() + "'";
  ASSERT_EQ(run(command), 0) << command;

  const ojson contexts = ojson::parse(read_file(contexts_path));
  const ojson reference = ojson::parse(read_file(reference_path));
  int total_mismatches = 0, total_rendered = 0, total_errors = 0;
  for (const auto& path : templates) {
    const ojson& expected = reference.at(path.string());
    int same_output = 0, both_error = 0, mismatches = 0;
    std::string first_problem;
    std::optional<ChatTemplate> tmpl;
    std::string parse_error;
    try {
      tmpl = ChatTemplate::parse(template_source(path));
    } catch (const Error& e) {
      parse_error = e.what();
    }
    for (size_t k = 0; k < contexts.size(); ++k) {
      std::string output, error = parse_error;
      if (tmpl) {
        try {
          output = tmpl->render(contexts[k]);
        } catch (const Error& e) {
          error = e.what();
        }
      }
      const bool python_failed = expected[k].contains("error");
      if (python_failed && !error.empty()) {
        ++both_error;
      } else if (!python_failed && error.empty() && expected[k]["output"].get<std::string>() == output) {
        ++same_output;
      } else {
        ++mismatches;
        if (first_problem.empty()) {
          first_problem = "context " + std::to_string(k) + ": python " +
                          (python_failed ? "error: " + expected[k]["error"].get<std::string>() : "ok") + " / dragon " +
                          (error.empty() ? "ok" : "error: " + error);
          if (!python_failed && error.empty()) {
            const std::string want = expected[k]["output"].get<std::string>();
            size_t at = 0;
            while (at < want.size() && at < output.size() && want[at] == output[at]) ++at;
            first_problem += "; first difference at byte " + std::to_string(at) + ": python \"" +
                             want.substr(at > 40 ? at - 40 : 0, 120) + "\" vs dragon \"" + output.substr(at > 40 ? at - 40 : 0, 120) + "\"";
          }
        }
      }
    }
    std::printf("%-58s identical %3d  both-error %3d  MISMATCH %3d\n", path.filename() == "tokenizer_config.json"
                                                                          ? path.parent_path().filename().string().c_str()
                                                                          : path.filename().string().c_str(),
                same_output, both_error, mismatches);
    if (mismatches) std::printf("    %s\n", first_problem.c_str());
    total_mismatches += mismatches;
    total_rendered += same_output;
    total_errors += both_error;
  }
  std::printf("templates %zu, conversations %zu: identical %d, both-error %d, mismatches %d\n", templates.size(), contexts.size(),
              total_rendered, total_errors, total_mismatches);
  fs::remove_all(work);
  EXPECT_EQ(total_mismatches, 0);
  // The corpus must exercise real rendering, not just agree on errors.
  EXPECT_GT(total_rendered, total_errors);
}

}  // namespace
}  // namespace dragon::chat
