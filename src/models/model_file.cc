#include "models/model_file.h"


#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "hub/hub.h"
#include "util/error.h"

namespace dragon {

namespace {

struct Expected {
  std::string name;
  std::vector<int64_t> shape;
};

// Compares the file's tensors with what the config implies. With `allow_fp8_scales`, a
// "<name>_scale_inv" may accompany an expected tensor (DeepSeek-style FP8 checkpoints).
void check_tensors(const std::string& where, const std::vector<TensorView>& tensors,
                   const std::vector<Expected>& expected, const std::string& arch, bool allow_fp8_scales,
                   const std::vector<std::string>& ignored_prefixes = {}) {
  std::map<std::string_view, const TensorView*> by_name;
  for (const TensorView& t : tensors) by_name.emplace(t.name, &t);
  std::set<std::string_view> known;
  for (const Expected& e : expected) {
    known.insert(e.name);
    auto it = by_name.find(e.name);
    if (it == by_name.end()) fail("{}: tensor {} is missing (expected shape {} for this config)", where, e.name, shape_string(e.shape));
    if (it->second->shape != e.shape)
      fail("{}: tensor {} has shape {}, expected {} for this config", where, e.name, shape_string(it->second->shape),
           shape_string(e.shape));
  }
  for (const TensorView& t : tensors) {
    if (known.count(t.name)) continue;
    if (allow_fp8_scales && t.name.ends_with("_scale_inv") &&
        known.count(std::string_view(t.name).substr(0, t.name.size() - std::string_view("_scale_inv").size())))
      continue;
    if (t.name.ends_with("rotary_emb.inv_freq")) continue;  // a buffer some old checkpoints saved
    if (std::any_of(ignored_prefixes.begin(), ignored_prefixes.end(),
                    [&](const std::string& p) { return t.name.starts_with(p); }))
      continue;
    fail("{}: unexpected tensor {} {} (not part of a {} model with this config)", where, t.name, shape_string(t.shape),
         arch);
  }
}

// Every F8_E4M3 weight needs its block scales, shaped [ceil(rows/128), ceil(cols/128)].
void check_fp8_scales(const std::string& where, const HFDirectory& hf) {
  constexpr int64_t block = 128;
  for (const auto& [name, t] : hf.tensors()) {
    if (t.dtype != DType::F8_E4M3 && t.dtype != DType::F8_E5M2) continue;
    if (t.shape.size() != 2) fail("{}: FP8 tensor {} has shape {}, expected a 2-D weight", where, name, shape_string(t.shape));
    const TensorView* scale = hf.find_tensor(name + "_scale_inv");
    if (!scale) fail("{}: FP8 tensor {} has no {}_scale_inv", where, name, name);
    const std::vector<int64_t> want = {(t.shape[0] + block - 1) / block, (t.shape[1] + block - 1) / block};
    if (scale->shape != want)
      fail("{}: tensor {}_scale_inv has shape {}, expected {} (128x128 blocks of {})", where, name,
           shape_string(scale->shape), shape_string(want), shape_string(t.shape));
  }
}

}  // namespace

std::string_view model_format_name(ModelFormat format) { return format == ModelFormat::GGUF ? "gguf" : "hf"; }

const TensorView* OpenedModel::find_tensor(std::string_view name) const {
  for (const TensorView& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

OpenedModel open_gguf_model(std::unique_ptr<GGUFFile> file) {
  OpenedModel m;
  m.format = ModelFormat::GGUF;
  m.path = file->path();
  m.config = with_context(m.path, [&] { return config_from_gguf(*file); });
  m.spec = find_arch_by_gguf(m.config.arch);
  m.tensors = file->tensors();
  std::vector<Expected> expected;
  for (const GGUFTensorPlan& p : m.spec->gguf_tensors(m.config)) expected.push_back({p.name, p.shape});
  check_tensors(m.path, m.tensors, expected, m.config.arch, false);
  m.gguf = std::move(file);
  return m;
}

OpenedModel open_model(const std::string& model) {
  // MODEL may also be a name `dragon pull` fetched (ORG/NAME[:FILE]).
  const std::string path = hub::resolve_model(model);
  if (!std::filesystem::exists(path))
    fail("{}: no such file or directory (a Hugging Face name must be fetched first: dragon pull {})", path, path);
  if (!is_hf_directory(path)) {
    if (std::filesystem::is_directory(path)) fail("{}: a directory without config.json (not an HF model)", path);
    return open_gguf_model(GGUFFile::open(path));
  }
  OpenedModel m;
  m.format = ModelFormat::HF;
  m.path = path;
  m.hf = HFDirectory::open(path);
  const std::string config_path = (std::filesystem::path(path) / "config.json").string();
  m.config = with_context(config_path, [&] { return config_from_hf(m.hf->config()); });
  m.spec = find_arch_by_hf(m.config.hf_architecture);
  for (const auto& [name, view] : m.hf->tensors()) m.tensors.push_back(view);
  std::vector<Expected> expected;
  for (const HFTensorSpec& s : m.spec->hf_tensors(m.config)) expected.push_back({s.name, s.shape});
  check_tensors(path, m.tensors, expected, m.config.arch, true, m.spec->hf_ignored_prefixes);
  check_fp8_scales(path, *m.hf);
  return m;
}

}  // namespace dragon
