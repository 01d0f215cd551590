#include "cli/demo_model.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "util/error.h"

namespace dragon::cli {

std::string demo_model_path() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DRAGON_DEMO_MODEL"); env && *env) return env;
  std::error_code ec;
  const fs::path bin = fs::read_symlink("/proc/self/exe", ec).parent_path();
  const char* kFile = "dragon-demo-poems.gguf";
  for (const fs::path& candidate : {bin / ".." / "models" / kFile, bin / "share" / kFile})
    if (fs::exists(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
  fail("no model given and the demo model ({}) is not next to the binary: pass --model M, or set "
       "DRAGON_DEMO_MODEL, or rebuild it with tools/demo/build_demo.sh",
       kFile);
}

}  // namespace dragon::cli
