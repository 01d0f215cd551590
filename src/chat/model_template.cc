// Reads the chat template out of a GGUF or an HF model directory.
#include "chat/model_template.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hub/hub.h"
#include "io/gguf.h"
#include "util/error.h"

namespace dragon::chat {

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("{}: cannot open", p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const fs::path& p) {
  try {
    return nlohmann::json::parse(read_text(p));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", p.string(), e.what());
  }
}

// bos_token / eos_token: a string, or an AddedToken object {"content": ...}, or null.
std::string token_text(const nlohmann::json& config, const char* key, const fs::path& file) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  fail("{}: {} is neither a string nor a token object", file.string(), key);
}

// chat_template: a string, or [{"name": ..., "template": ...}] of which "default" is used.
std::string pick_template(const nlohmann::json& value, const fs::path& file) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    for (const auto& entry : value) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") && entry["template"].is_string())
        return entry["template"].get<std::string>();
    }
    fail("{}: chat_template is a list without a \"default\" entry", file.string());
  }
  fail("{}: chat_template must be a string or a list of named templates", file.string());
}

ModelTemplate from_hf_dir(const fs::path& dir) {
  ModelTemplate t;
  const fs::path config_path = dir / "tokenizer_config.json";
  nlohmann::json config = nlohmann::json::object();
  if (fs::exists(config_path)) config = read_json(config_path);
  if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    t.source = pick_template(config["chat_template"], config_path);
    t.origin = config_path.string();
  } else if (fs::exists(dir / "chat_template.jinja")) {
    t.source = read_text(dir / "chat_template.jinja");
    t.origin = (dir / "chat_template.jinja").string();
  } else if (fs::exists(dir / "chat_template.json")) {
    const nlohmann::json j = read_json(dir / "chat_template.json");
    if (!j.contains("chat_template")) fail("{}: no chat_template key", (dir / "chat_template.json").string());
    t.source = pick_template(j["chat_template"], dir / "chat_template.json");
    t.origin = (dir / "chat_template.json").string();
  } else {
    fail("{}: no chat template (looked in tokenizer_config.json, chat_template.jinja, chat_template.json)", dir.string());
  }
  t.bos_token = token_text(config, "bos_token", config_path);
  t.eos_token = token_text(config, "eos_token", config_path);
  return t;
}

ModelTemplate from_gguf(const std::string& path) {
  auto file = GGUFFile::open(path);
  ModelTemplate t;
  const GGUFValue* tmpl = file->find("tokenizer.chat_template");
  if (!tmpl) fail("{}: no tokenizer.chat_template key", path);
  t.source = with_context(path + ": tokenizer.chat_template", [&] { return tmpl->as_string(); });
  t.origin = path;
  const GGUFValue* tokens = file->find("tokenizer.ggml.tokens");
  auto token = [&](const char* key) -> std::string {
    const GGUFValue* id = file->find(key);
    if (!id || !tokens) return "";
    const int64_t index = with_context(path + ": " + key, [&] { return id->as_int(); });
    const auto& list = tokens->as_array();
    if (index < 0 || index >= int64_t(list.size()))
      fail("{}: {} = {} is outside tokenizer.ggml.tokens ({} tokens)", path, key, index, list.size());
    return with_context(path + ": tokenizer.ggml.tokens", [&] { return list[size_t(index)].as_string(); });
  };
  t.bos_token = token("tokenizer.ggml.bos_token_id");
  t.eos_token = token("tokenizer.ggml.eos_token_id");
  return t;
}

}  // namespace

ModelTemplate load_model_template(const std::string& model) {
  const std::string model_path = hub::resolve_model(model);
  if (fs::is_directory(model_path)) return from_hf_dir(model_path);
  if (!fs::exists(model_path)) fail("{}: no such file or directory", model_path);
  return from_gguf(model_path);
}

}  // namespace dragon::chat
