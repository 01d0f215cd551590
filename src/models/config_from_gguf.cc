// GGUF metadata -> ModelConfig: general.architecture picks the family, the common "<arch>.*"
// keys are read by arch_common, then the family's reader adds its own, then validation.
#include "io/gguf.h"
#include "models/arch.h"
#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

namespace {

// llama.cpp takes the vocabulary size from the token list; files without a tokenizer fall back
// on "<arch>.vocab_size" and then the embedding matrix's row count.
int64_t gguf_vocab_size(const GGUFFile& f, const std::string& arch) {
  if (const GGUFValue* tokens = f.find("tokenizer.ggml.tokens"))
    return with_context("key tokenizer.ggml.tokens", [&] { return static_cast<int64_t>(tokens->as_array().size()); });
  if (auto n = arch::gguf_arch_int_opt(f, arch, "vocab_size")) return *n;
  if (const TensorView* embd = f.find_tensor("token_embd.weight"); embd && embd->shape.size() == 2)
    return embd->shape[0];
  fail("no tokenizer.ggml.tokens, {}.vocab_size or token_embd.weight to tell the vocabulary size", arch);
}

int64_t optional_token_id(const GGUFFile& f, const char* key) {
  const GGUFValue* v = f.find(key);
  if (!v) return -1;
  return with_context(std::string("key ") + key, [&] { return v->as_int(); });
}

}  // namespace

ModelConfig config_from_gguf(const GGUFFile& file) {
  const std::string arch_name =
      with_context("key general.architecture", [&] { return file.get("general.architecture").as_string(); });
  const ArchSpec* spec = find_arch_by_gguf(arch_name);
  if (!spec) fail("unsupported architecture \"{}\"", arch_name);

  ModelConfig c;
  c.arch = spec->arch;
  c.hf_architecture = spec->hf_architectures.empty() ? "" : spec->hf_architectures.front();
  if (const GGUFValue* name = file.find("general.name"); name && name->type() == GGUFType::STRING)
    c.name = name->as_string();
  c.source = nlohmann::json::object();

  arch::read_common_gguf_metadata(file, c);
  c.vocab_size = gguf_vocab_size(file, c.arch);
  c.bos_token_id = optional_token_id(file, "tokenizer.ggml.bos_token_id");
  c.eos_token_id = optional_token_id(file, "tokenizer.ggml.eos_token_id");
  // A tied model has no output.weight; llama.cpp then reuses token_embd.
  c.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;
  // Biases have no metadata key: their tensors tell (families may refine this).
  c.attention_bias = file.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.attention_out_bias = file.find_tensor("blk.0.attn_output.bias") != nullptr;

  if (spec->read_gguf_metadata) spec->read_gguf_metadata(file, c);
  validate_config(c);
  return c;
}

}  // namespace dragon
