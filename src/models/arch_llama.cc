// Llama architecture releases (LlamaForCausalLM): DeepSeek LLM / Coder, Yi, R1-Distill-Llama.
// The plain pre-norm block: RMSNorm, GQA attention with NeoX-halves rope in HF, SwiGLU FFN.
// Optional biases follow LlamaConfig: attention_bias puts a bias on q/k/v AND o_proj, mlp_bias
// on the three FFN projections.
//
// GGUF: llama.cpp's "llama" arch rotates adjacent pairs (LLAMA_ROPE_TYPE_NORM), so
// convert_hf_to_gguf.py's LlamaModel permutes the rows of q_proj / k_proj within each head
// (conversion/llama.py, LlamaModel.permute) and the rope then acts on the same pairs of values.
// ModelConfig::rope_interleaved describes the q/k rows as stored in the file the config was read
// from: false for an HF checkpoint, true for a GGUF file.
// llama.cpp: src/models/llama.cpp (tensors, keys), src/llama-arch.cpp (names).
#include "io/gguf.h"
#include "models/arch_common.h"
#include "util/error.h"

namespace dragon {

namespace {

arch::AttentionLayout llama_attention(const ModelConfig& c) {
  return arch::AttentionLayout{c.attention_bias, c.attention_out_bias, false};
}

}  // namespace

ArchSpec make_llama_arch() {
  ArchSpec spec;
  spec.arch = "llama";
  spec.hf_architectures = {"LlamaForCausalLM"};

  spec.read_hf_config = [](const nlohmann::json&, ModelConfig& c) {
    c.attention_out_bias = c.attention_bias;  // LlamaAttention: o_proj bias=config.attention_bias
    c.rope_interleaved = false;
  };

  spec.write_gguf_metadata = [](const ModelConfig& c, GGUFWriter& w) {
    arch::write_common_gguf_metadata(c, w);
    arch::gguf_set_u32(w, c.arch, "vocab_size", c.vocab_size);  // LlamaModel writes it
  };

  spec.read_gguf_metadata = [](const GGUFFile& f, ModelConfig& c) {
    c.rope_interleaved = true;  // q/k rows were permuted by the converter
    // No keys for the optional biases: llama.cpp loads whichever tensors are present.
    c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
    c.attention_out_bias = f.find_tensor("blk.0.attn_output.bias") != nullptr;
    c.mlp_bias = f.find_tensor("blk.0.ffn_gate.bias") != nullptr;
  };

  spec.hf_tensors = [](const ModelConfig& c) { return arch::dense_decoder_hf_tensors(c, llama_attention(c)); };

  spec.gguf_tensors = [](const ModelConfig& c) {
    return arch::dense_decoder_gguf_plans(c, llama_attention(c), /*permute_qk=*/true);
  };
  return spec;
}

}  // namespace dragon
