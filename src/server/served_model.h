// The model a server answers for, as the routes see it: its name, chat template, tokenizer,
// the ids that end a turn, its context and tool-call format; and how a chat becomes prompt ids
// (the template rendered as HF's apply_chat_template does, then tokenized without added
// BOS/EOS and with special tokens parsed — exactly what `dragon run` feeds).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/model_template.h"
#include "chat/tool_call_parser.h"
#include "server/token_table.h"
#include "chat/reasoning_parser.h"
#include "tokenizer/tokenizer.h"

namespace dragon::server {

struct ServedModel {
  std::string name;                 // the id clients send and /v1/models lists
  std::string path;                 // the file or directory it was loaded from
  const Tokenizer* tokenizer = nullptr;
  chat::ModelTemplate chat_template;
  std::optional<chat::ChatTemplate> parsed_template;  // empty when the model has none
  std::vector<int32_t> stop_tokens;  // EOS and end-of-turn ids
  int64_t n_ctx = 0;                 // positions per request (prompt + answer)
  chat::ToolCallFormat tool_format = chat::ToolCallFormat::None;
  nlohmann::json details;            // arch, parameter count, quantization: for /api/show, /api/tags
  int64_t size_bytes = 0;
  int64_t created = 0;               // unix time the server loaded it

  // Renders the conversation (OpenAI-shaped messages, normalized by the request parser).
  std::string render_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                          const nlohmann::ordered_json& template_kwargs) const;
  std::vector<int32_t> tokenize(const std::string& prompt_text, bool parse_special = true) const;
  // The markers of the template's reasoning block; none when it writes none.
  std::optional<chat::ReasoningTags> reasoning_tags() const { return chat::reasoning_tags_of_template(chat_template.source); }
  // Token bytes for JSON-constrained decoding, built on first use.
  std::shared_ptr<const TokenTable> token_table() const;

 private:
  mutable std::once_flag table_once_;
  mutable std::shared_ptr<const TokenTable> table_;
};

// The ids that end an answer: the tokenizer's EOS, the template's eos_token, the end-of-turn
// tokens of the known families present in the vocabulary, and generation_config.json's
// eos_token_id beside an HF directory.
std::vector<int32_t> stop_token_ids(const Tokenizer& tokenizer, const chat::ModelTemplate& tmpl, const std::string& model_path);

}  // namespace dragon::server
