#include "hub/model_name.h"

#include <cstdlib>

#include "util/error.h"

namespace dragon::hub {

namespace {

// One path component of a name: HF allows letters, digits, '.', '_' and '-'. "." and ".."
// (and anything starting with '.') would walk out of, or hide in, the cache directory.
std::string check_part(const std::string& part, const char* what, const std::string& whole) {
  if (part.empty()) fail("model name '{}': empty {}", whole, what);
  if (part.size() > 96) fail("model name '{}': {} longer than 96 characters", whole, what);
  if (part[0] == '.' || part[0] == '-') fail("model name '{}': {} '{}' may not start with '{}'", whole, what, part, part[0]);
  for (char c : part) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) fail("model name '{}': character '{}' not allowed in {} (use letters, digits, '.', '_', '-')", whole, c, what);
  }
  return part;
}

}  // namespace

ModelName parse_model_name(const std::string& text) {
  if (text.empty()) fail("model name is empty (expected ORG/NAME[:FILE])");
  if (text[0] == '/' || text[0] == '~') fail("model name '{}': expected ORG/NAME[:FILE], not a path", text);
  ModelName m;
  std::string repo = text;
  if (const size_t colon = text.find(':'); colon != std::string::npos) {
    repo = text.substr(0, colon);
    m.file = check_part(text.substr(colon + 1), "file", text);
  }
  const size_t slash = repo.find('/');
  if (slash == std::string::npos) fail("model name '{}': expected ORG/NAME[:FILE]", text);
  if (repo.find('/', slash + 1) != std::string::npos) fail("model name '{}': expected exactly one '/' (ORG/NAME)", text);
  m.org = check_part(repo.substr(0, slash), "organization", text);
  m.name = check_part(repo.substr(slash + 1), "name", text);
  if (m.org.find("..") != std::string::npos || m.name.find("..") != std::string::npos || m.file.find("..") != std::string::npos)
    fail("model name '{}': '..' not allowed", text);
  return m;
}

std::optional<ModelName> try_parse_model_name(const std::string& text) {
  try {
    return parse_model_name(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::filesystem::path dragon_home() {
  if (const char* h = std::getenv("DRAGON_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  if (!home || !*home) fail("neither DRAGON_HOME nor HOME is set: cannot place the model cache");
  return std::filesystem::path(home) / ".cache" / "dragon";
}

std::filesystem::path models_root() { return dragon_home() / "models"; }

std::filesystem::path model_dir(const ModelName& name) { return models_root() / name.org / name.name; }

}  // namespace dragon::hub
