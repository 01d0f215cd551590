// Finds a model's chat template and its BOS / EOS token text: in a GGUF (tokenizer.chat_template,
// token ids indexing tokenizer.ggml.tokens) or in an HF directory (tokenizer_config.json
// chat_template — a string, or a list of {name, template} from which "default" is taken —
// falling back to chat_template.jinja / chat_template.json beside it).
#pragma once

#include <string>

namespace dragon::chat {

struct ModelTemplate {
  std::string source;     // the Jinja text
  std::string bos_token;  // "" when the model has none
  std::string eos_token;
  std::string origin;     // where the template came from, for messages
};

ModelTemplate load_model_template(const std::string& model_path);

}  // namespace dragon::chat
