// Names of pulled models and where they live in the local cache.
// A name is ORG/NAME[:FILE] as on Hugging Face; it becomes the directory
// $DRAGON_HOME/models/ORG/NAME (default ~/.cache/dragon), so it is checked strictly
// to keep it inside the cache: no "..", no absolute paths, only [A-Za-z0-9._-] per part.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace dragon::hub {

struct ModelName {
  std::string org;
  std::string name;
  std::string file;  // the GGUF picked by ORG/NAME:FILE; empty when none was named
  std::string repo() const { return org + "/" + name; }
};

// Parses ORG/NAME[:FILE]; throws dragon::Error naming the problem for anything else.
ModelName parse_model_name(const std::string& text);

// Same check, returning nothing instead of throwing (for "is this a pulled name?").
std::optional<ModelName> try_parse_model_name(const std::string& text);

// $DRAGON_HOME, else $HOME/.cache/dragon.
std::filesystem::path dragon_home();
// dragon_home()/models
std::filesystem::path models_root();
// models_root()/ORG/NAME
std::filesystem::path model_dir(const ModelName& name);

}  // namespace dragon::hub
