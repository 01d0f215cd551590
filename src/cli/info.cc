// dragon info MODEL [--json]: what a model file is — format, architecture, parameter count,
// dtype mix, size, context length and the normalized config. A GGUF whose architecture dragon
// does not support still gets its file-level facts.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "io/gguf.h"
#include "io/hf_dir.h"
#include "models/arch.h"
#include "models/model_file.h"
#include "runtime/kv_cache.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

using json = nlohmann::json;

// FP8 block scales are metadata of their weight, not parameters.
bool is_parameter(const TensorView& t) { return !t.name.ends_with("_scale_inv"); }

json tensor_facts(const std::vector<TensorView>& tensors) {
  std::map<std::string, std::pair<int64_t, uint64_t>> mix;  // dtype -> (count, bytes)
  int64_t params = 0;
  uint64_t bytes = 0;
  for (const TensorView& t : tensors) {
    auto& [count, b] = mix[std::string(dtype_name(t.dtype))];
    ++count;
    b += t.nbytes;
    bytes += t.nbytes;
    if (is_parameter(t)) params += t.numel();
  }
  json dtypes = json::object();
  for (const auto& [name, cb] : mix) dtypes[name] = {{"tensors", cb.first}, {"bytes", cb.second}};
  return {{"tensor_count", tensors.size()}, {"parameters", params}, {"tensor_bytes", bytes}, {"dtypes", dtypes}};
}

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.2f} K", n / 1e3);
  return fmt::format("{}", n);
}

std::string human_bytes(double n) {
  if (n >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", n / (1024.0 * 1024 * 1024));
  if (n >= 1024.0 * 1024) return fmt::format("{:.2f} MiB", n / (1024.0 * 1024));
  if (n >= 1024.0) return fmt::format("{:.2f} KiB", n / 1024.0);
  return fmt::format("{} B", n);
}

json describe_gguf_file(const GGUFFile& f) {
  const GGUFValue* arch = f.find("general.architecture");
  json j = {{"path", f.path()},
            {"format", "gguf"},
            {"gguf_version", f.version()},
            {"metadata_count", f.metadata().size()},
            {"file_bytes", f.file_size()}};
  j["architecture"] = arch && arch->type() == GGUFType::STRING ? json(arch->as_string()) : json();
  j.update(tensor_facts(f.tensors()));
  return j;
}

// KV cache bytes per token of context at the default F16 cache (MLA: latent + rope row only).
void add_kv_facts(json& j, const ModelConfig& c) {
  j["kv_bytes_per_token"] = KVCache::bytes_per_token(c, CacheType::F16);
  j["kv_cache"] = c.is_mla() ? "latent" : "per-head";
}

json describe(const std::string& path) {
  if (!is_hf_directory(path) && !std::filesystem::is_directory(path) && std::filesystem::exists(path)) {
    auto file = GGUFFile::open(path);
    json j = describe_gguf_file(*file);
    const std::string arch = j["architecture"].is_string() ? j["architecture"].get<std::string>() : "";
    if (!find_arch_by_gguf(arch)) {
      j["supported"] = false;
      return j;
    }
    const OpenedModel m = open_gguf_model(std::move(file));
    j["supported"] = true;
    j["hf_architecture"] = m.config.hf_architecture;
    j["context_length"] = m.config.context_length;
    j["config"] = config_to_json(m.config);
    add_kv_facts(j, m.config);
    return j;
  }
  const OpenedModel m = open_model(path);
  json j = {{"path", path}, {"format", "hf"}, {"architecture", m.config.arch}, {"supported", true},
            {"hf_architecture", m.config.hf_architecture}, {"shards", m.hf->shards().size()}};
  j.update(tensor_facts(m.tensors));
  j["context_length"] = m.config.context_length;
  j["config"] = config_to_json(m.config);
  add_kv_facts(j, m.config);
  return j;
}

void print_text(const json& j) {
  fmt::print("file:          {}\n", j["path"].get<std::string>());
  if (j["format"] == "gguf")
    fmt::print("format:        GGUF v{} ({} metadata keys, {})\n", j["gguf_version"].get<int>(),
               j["metadata_count"].get<int64_t>(), human_bytes(j["file_bytes"].get<double>()));
  else
    fmt::print("format:        HF directory ({} safetensors shard{})\n", j["shards"].get<int64_t>(),
               j["shards"].get<int64_t>() == 1 ? "" : "s");
  const std::string arch = j["architecture"].is_string() ? j["architecture"].get<std::string>() : "(none)";
  if (j["supported"].get<bool>())
    fmt::print("architecture:  {} ({})\n", arch, j["hf_architecture"].get<std::string>());
  else
    fmt::print("architecture:  {} (unsupported by dragon: file-level facts only)\n", arch);
  fmt::print("parameters:    {} ({})\n", human_count(j["parameters"].get<double>()), j["parameters"].get<int64_t>());
  fmt::print("tensors:       {} ({})\n", j["tensor_count"].get<int64_t>(), human_bytes(j["tensor_bytes"].get<double>()));
  for (const auto& [name, v] : j["dtypes"].items())
    fmt::print("  {:<8} {:>6} tensors  {:>12}\n", name, v["tensors"].get<int64_t>(),
               human_bytes(v["bytes"].get<double>()));
  if (!j["supported"].get<bool>()) return;
  fmt::print("context:       {}\n", j["context_length"].get<int64_t>());
  fmt::print("kv cache:      {} bytes/token at F16 ({})\n", j["kv_bytes_per_token"].get<int64_t>(),
             j["kv_cache"] != "latent"                     ? "per-head keys and values"
             : j["config"].contains("sparse_attention") ? "MLA: compressed latent + rope key + DSA indexer key only"
                                                        : "MLA: compressed latent + rope key only");
  fmt::print("config:\n");
  for (const auto& [key, value] : j["config"].items()) fmt::print("  {:<22} {}\n", key, value.dump());
}

}  // namespace

void register_info(CLI::App& app, const SetRunner& set_runner) {
  auto* cmd = app.add_subcommand("info", "Describe a model: GGUF file or HF directory");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("model", *path, "GGUF file or HF model directory")->required();
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([set_runner, path, as_json] {
    set_runner([path, as_json]() -> int {
      const json j = describe(*path);
      if (*as_json) fmt::print("{}\n", j.dump(2));
      else print_text(j);
      return 0;
    });
  });
}

}  // namespace dragon::cli
