// Pulling models from Hugging Face / ModelScope into the local cache, listing and removing
// them, and turning a pulled name into a path that open_model() understands.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/model_name.h"

namespace dragon::hub {

enum class Source { HuggingFace, ModelScope };

struct PullOptions {
  Source source = Source::HuggingFace;
  std::string revision = "main";  // ModelScope's default branch is "master"; see pull()
  std::string endpoint;           // overrides $HF_ENDPOINT / the public hub URL
};

// One file of a hub repository as its listing describes it.
struct RemoteFile {
  std::string path;
  int64_t size = -1;
  std::string sha256;  // LFS / ModelScope hash when published
};

// The files inference needs: config.json, generation_config.json, tokenizer files, safetensors
// weights + index; for a GGUF repo, the one GGUF named by :FILE, else the preferred quant.
std::vector<RemoteFile> select_files(const std::vector<RemoteFile>& all, const ModelName& name);

// Whether a file path the hub lists may be joined under the model's directory: relative, no
// "..", no backslash, no control characters, so that whatever a server answers, pull writes
// only inside the cache. pull() refuses the whole repository before downloading anything if one
// selected path fails.
bool is_safe_hub_path(const std::string& path);

struct PullResult {
  std::filesystem::path dir;
  int64_t fetched = 0, resumed = 0, files = 0;
};

// Downloads `name` into model_dir(name), skipping files already complete.
PullResult pull(const ModelName& name, const PullOptions& options);

struct CachedModel {
  std::string name;  // ORG/NAME
  std::filesystem::path dir;
  int64_t bytes = 0;
  bool complete = false;  // no .part files left
};
std::vector<CachedModel> list_cached();

// Deletes a cached model; throws when it is not in the cache.
void remove_cached(const ModelName& name);

// MODEL as given on a command line: an existing path is returned unchanged; a pulled name
// (ORG/NAME[:FILE]) becomes its cache directory, or its GGUF file when the repo holds GGUFs.
// Anything else is returned unchanged so the caller's "not found" error names it.
std::string resolve_model(const std::string& model);

}  // namespace dragon::hub
