#include "server/served_model.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "server/api_error.h"
#include "util/error.h"

namespace dragon::server {

std::string ServedModel::render_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                     const nlohmann::ordered_json& template_kwargs) const {
  if (!parsed_template) throw ApiError(400, "the model has no chat template; use /v1/completions", "messages");
  try {
    return parsed_template->render(chat::make_chat_context(messages, tools, true, chat_template.bos_token,
                                                           chat_template.eos_token, template_kwargs));
  } catch (const Error& e) {
    // raise_exception() in templates reports a conversation the model cannot take.
    throw ApiError(400, std::string("the chat template rejected the messages: ") + e.what(), "messages");
  }
}

std::vector<int32_t> ServedModel::tokenize(const std::string& prompt_text, bool parse_special) const {
  return tokenizer->encode(prompt_text, /*add_special_tokens=*/false, parse_special);
}

std::shared_ptr<const TokenTable> ServedModel::token_table() const {
  std::call_once(table_once_, [&] { table_ = TokenTable::build(*tokenizer); });
  return table_;
}

std::vector<int32_t> stop_token_ids(const Tokenizer& tok, const chat::ModelTemplate& tmpl, const std::string& model_path) {
  std::vector<int32_t> ids;
  const auto add = [&](int64_t id) {
    if (id >= 0 && id < tok.n_vocab() && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(int32_t(id));
  };
  add(tok.eos_id());
  if (!tmpl.eos_token.empty())
    if (auto id = tok.token_id(tmpl.eos_token)) add(*id);
  // End-of-turn tokens: a GGUF often names <|endoftext|> as EOS while the chat turn ends in
  // <|im_end|> (llama.cpp keeps the same list of end-of-generation tokens).
  for (const char* spelling : {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<|endoftext|>",
                               "<|user|>", "<|observation|>"})
    if (auto id = tok.token_id(spelling); id && tok.is_special(*id)) add(*id);
  const std::filesystem::path gen = std::filesystem::path(model_path) / "generation_config.json";
  if (std::filesystem::is_directory(model_path) && std::filesystem::exists(gen)) {
    std::ifstream in(gen);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_object() && j.contains("eos_token_id")) {
      const nlohmann::json& e = j["eos_token_id"];
      if (e.is_number_integer()) add(e.get<int64_t>());
      if (e.is_array())
        for (const auto& v : e)
          if (v.is_number_integer()) add(v.get<int64_t>());
    }
  }
  return ids;
}

}  // namespace dragon::server
