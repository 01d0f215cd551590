#include "hub/hub.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "hub/download.h"
#include "util/error.h"

namespace dragon::hub {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) { return s.ends_with(suffix); }

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Files other than weights that inference reads.
bool is_support_file(const std::string& path) {
  static const char* const kNames[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                       "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model",
                                       "chat_template.jinja", "chat_template.json", "added_tokens.json"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return path == n; });
}

// Lower rank = preferred GGUF when the user names none: a good size / quality trade-off first.
int gguf_rank(const std::string& path) {
  static const char* const kOrder[] = {"q4_k_m", "q4_k_s", "q5_k_m", "q8_0", "q6_k", "q4_0", "bf16", "f16"};
  const std::string p = lower(path);
  for (int i = 0; i < int(std::size(kOrder)); ++i)
    if (p.find(kOrder[i]) != std::string::npos) return i;
  return int(std::size(kOrder));
}

std::string hf_endpoint(const PullOptions& o) {
  if (!o.endpoint.empty()) return o.endpoint;
  if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) return e;
  return "https://huggingface.co";
}

// Hugging Face's token, where huggingface_hub keeps it: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, else the
// file `huggingface-cli login` writes ($HF_HOME/token, default ~/.cache/huggingface/token).
std::string hf_token() {
  for (const char* var : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})
    if (const char* t = std::getenv(var); t && *t) return t;
  fs::path file;
  if (const char* h = std::getenv("HF_HOME"); h && *h) file = fs::path(h) / "token";
  else if (const char* home = std::getenv("HOME"); home && *home) file = fs::path(home) / ".cache" / "huggingface" / "token";
  std::ifstream in(file);
  std::string token;
  if (in) std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

std::string token_for(Source source) { return source == Source::HuggingFace ? hf_token() : std::string(); }

std::string ms_endpoint(const PullOptions& o) {
  if (!o.endpoint.empty()) return o.endpoint;
  if (const char* e = std::getenv("MODELSCOPE_ENDPOINT"); e && *e) return e;
  return "https://www.modelscope.cn";
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Adds the advice a person can act on to a connection failure.
[[noreturn]] void offline(const Error& e, Source source) {
  if (source == Source::HuggingFace) fail("{}; set HF_ENDPOINT (e.g. a mirror) or use --source modelscope", e.what());
  fail("{}; check the network or set MODELSCOPE_ENDPOINT", e.what());
}

json get_json(const std::string& url, const ModelName& name, Source source) {
  HttpResponse r;
  try {
    r = http_get(url, token_for(source));
  } catch (const Error& e) {
    offline(e, source);
  }
  if (r.status == 401 || r.status == 403)
    fail("{}: access denied (HTTP {}); the repository may be gated or private{}", name.repo(), r.status,
         source == Source::HuggingFace && hf_token().empty() ? ": set HF_TOKEN to a token that may read it" : "");
  if (r.status == 404) fail("{}: not found on {} (HTTP 404); check the name and --revision", name.repo(), host_of(url));
  if (r.status != 200) fail("{}: HTTP {} from {}", name.repo(), r.status, url);
  try {
    return json::parse(r.body);
  } catch (const json::exception& e) {
    fail("{}: the file list from {} is not JSON: {}", name.repo(), url, e.what());
  }
}

std::vector<RemoteFile> list_hf(const ModelName& name, const PullOptions& o, std::string& base) {
  const std::string ep = strip_slash(hf_endpoint(o));
  const json j = get_json(fmt::format("{}/api/models/{}/tree/{}?recursive=true", ep, name.repo(), o.revision), name, o.source);
  if (!j.is_array()) fail("{}: unexpected file list from {}", name.repo(), ep);
  std::vector<RemoteFile> files;
  for (const json& e : j) {
    if (e.value("type", "file") != "file") continue;
    RemoteFile f;
    f.path = e.value("path", "");
    f.size = e.value("size", int64_t{-1});
    // Large files live in LFS, whose oid is the sha256 of the content; small files only carry a
    // git blob id, which is not a content hash, so they are checked by size alone.
    if (e.contains("lfs") && e["lfs"].is_object()) {
      f.sha256 = e["lfs"].value("oid", "");
      if (e["lfs"].contains("size")) f.size = e["lfs"].value("size", f.size);
    }
    files.push_back(f);
  }
  base = fmt::format("{}/{}/resolve/{}/", ep, name.repo(), o.revision);
  return files;
}

// ModelScope's hub API (as used by its python SDK): GET /api/v1/models/ORG/NAME/repo/files
// ?Revision=R&Recursive=true -> {"Data":{"Files":[{"Path","Size","Sha256","Type"}]}};
// a file's bytes from /api/v1/models/ORG/NAME/repo?Revision=R&FilePath=PATH.
std::vector<RemoteFile> list_modelscope(const ModelName& name, const PullOptions& o, std::string& base) {
  const std::string ep = strip_slash(ms_endpoint(o));
  const std::string rev = o.revision == "main" ? "master" : o.revision;
  const json j = get_json(fmt::format("{}/api/v1/models/{}/repo/files?Revision={}&Recursive=true", ep, name.repo(), rev), name, o.source);
  if (!j.contains("Data") || !j["Data"].contains("Files")) fail("{}: unexpected file list from {}", name.repo(), ep);
  std::vector<RemoteFile> files;
  for (const json& e : j["Data"]["Files"]) {
    if (e.value("Type", "blob") == "tree") continue;
    files.push_back({e.value("Path", ""), e.value("Size", int64_t{-1}), lower(e.value("Sha256", ""))});
  }
  base = fmt::format("{}/api/v1/models/{}/repo?Revision={}&FilePath=", ep, name.repo(), rev);
  return files;
}

int64_t dir_bytes(const fs::path& dir, bool& complete) {
  int64_t total = 0;
  complete = true;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    total += int64_t(e.file_size());
    if (e.path().extension() == ".part") complete = false;
  }
  return total;
}

}  // namespace

std::vector<RemoteFile> select_files(const std::vector<RemoteFile>& all, const ModelName& name) {
  std::vector<RemoteFile> out, ggufs;
  bool has_safetensors = false;
  for (const RemoteFile& f : all) {
    if (f.path.find('/') != std::string::npos && !ends_with(f.path, ".gguf")) continue;  // subfolders: not for inference
    if (ends_with(f.path, ".gguf")) ggufs.push_back(f);
    else if (ends_with(f.path, ".safetensors") || f.path == "model.safetensors.index.json") has_safetensors = true, out.push_back(f);
    else if (is_support_file(f.path)) out.push_back(f);
  }
  if (!name.file.empty()) {
    std::vector<RemoteFile> picked;
    for (const RemoteFile& f : all) {
      const std::string base = f.path.substr(f.path.rfind('/') + 1);
      if (f.path == name.file || base == name.file) picked.push_back(f);
    }
    if (picked.empty()) {
      std::string have;
      for (const RemoteFile& g : ggufs) have += " " + g.path;
      fail("{}: no file '{}' in the repository{}", name.repo(), name.file, have.empty() ? "" : "; GGUF files:" + have);
    }
    return picked;
  }
  if (!has_safetensors && !ggufs.empty()) {
    // A GGUF repo: one file holds everything; take the preferred quantization.
    std::stable_sort(ggufs.begin(), ggufs.end(), [](const RemoteFile& a, const RemoteFile& b) { return gguf_rank(a.path) < gguf_rank(b.path); });
    return {ggufs.front()};
  }
  if (!has_safetensors) fail("{}: no *.safetensors or *.gguf files in the repository", name.repo());
  return out;
}

bool is_safe_hub_path(const std::string& path) {
  if (path.empty() || path[0] == '/' || path.find("..") != std::string::npos || path.find('\\') != std::string::npos) return false;
  return std::none_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

PullResult pull(const ModelName& name, const PullOptions& options) {
  std::string base;
  const std::vector<RemoteFile> all =
      options.source == Source::HuggingFace ? list_hf(name, options, base) : list_modelscope(name, options, base);
  const std::vector<RemoteFile> files = select_files(all, name);
  // The hub's own paths go under our directory too: check them all before fetching anything.
  for (const RemoteFile& f : files)
    if (!is_safe_hub_path(f.path)) fail("{}: refusing file path '{}' from the hub", name.repo(), f.path);
  PullResult result;
  result.dir = model_dir(name);
  for (const RemoteFile& f : files) {
    const fs::path dest = result.dir / f.path;
    if (fs::exists(dest) && (f.size < 0 || int64_t(fs::file_size(dest)) == f.size)) continue;  // already complete
    DownloadRequest req{base + f.path, dest, f.size, f.sha256, f.path, token_for(options.source)};
    DownloadResult d;
    try {
      d = download_file(req);
    } catch (const Error& e) {
      if (std::string(e.what()).starts_with("cannot reach")) offline(e, options.source);
      throw;
    }
    result.fetched += d.fetched;
    result.resumed += d.resumed_from;
    ++result.files;
  }
  return result;
}

std::vector<CachedModel> list_cached() {
  std::vector<CachedModel> out;
  const fs::path root = models_root();
  if (!fs::is_directory(root)) return out;
  for (const auto& org : fs::directory_iterator(root)) {
    if (!org.is_directory()) continue;
    for (const auto& repo : fs::directory_iterator(org.path())) {
      if (!repo.is_directory()) continue;
      CachedModel m;
      m.name = org.path().filename().string() + "/" + repo.path().filename().string();
      m.dir = repo.path();
      m.bytes = dir_bytes(repo.path(), m.complete);
      out.push_back(m);
    }
  }
  std::sort(out.begin(), out.end(), [](const CachedModel& a, const CachedModel& b) { return a.name < b.name; });
  return out;
}

void remove_cached(const ModelName& name) {
  const fs::path dir = model_dir(name);
  if (!fs::is_directory(dir)) fail("{}: not in the cache ({}); `dragon ls` lists cached models", name.repo(), models_root().string());
  fs::remove_all(dir);
  std::error_code ec;
  fs::remove(dir.parent_path(), ec);  // drop the ORG directory when it became empty
}

std::string resolve_model(const std::string& model) {
  if (fs::exists(model)) return model;
  const auto name = try_parse_model_name(model);
  if (!name) return model;
  const fs::path dir = model_dir(*name);
  if (!fs::is_directory(dir)) return model;
  if (!name->file.empty()) {
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.path().filename() == name->file) return e.path().string();
    return model;
  }
  if (fs::exists(dir / "config.json")) return dir.string();
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".gguf") return e.path().string();
  return dir.string();
}

}  // namespace dragon::hub
