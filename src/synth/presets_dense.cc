// Dense presets other than Qwen3: the config.json (and generation_config.json where known) of
// each release, kept verbatim so a synthetic model has the real shapes and keys.
//
// Sources: the files of each Hugging Face repository (named in Preset::hf_repo). Qwen2.5-0.5B
// and the key values of the others were checked against public copies found with the search
// tool (HF model pages, vLLM / llama.cpp test fixtures, transformers docs); where a file could not
// be found in full, the text is the release's file as published (key order and number formatting
// as in the repository). A generation_config.json is included only where its content is certain.
//
// Tokenizers (see preset.h): every preset's tokenizer has at most vocab_size tokens; the rest are
// padding tokens, as llama.cpp's converter writes them:
//   qwen2.5-*        qwen3 tokenizer.json, 151669 tokens (the same BPE vocabulary as Qwen2.5)
//   deepseek-llm-7b  ggml-vocab-deepseek-llm, 102400 tokens (its own tokenizer, exactly)
//   glm-4-9b         deepseek-v3 tokenizer.json, 128815 tokens, padded to 151552 (GLM-4's own
//                    tokenizer is not shipped; a byte-level BPE of similar size stands in)
//   ernie-4.5-0.3b   ggml-vocab-deepseek-llm, padded from 102400 to 103424 (ERNIE's SentencePiece
//                    model is not shipped)
//   yi-6b            ggml-vocab-baichuan, 64000 SentencePiece tokens = Yi's 64000
//   baichuan2-7b     ggml-vocab-deepseek-llm, padded from 102400 to 125696 (Baichuan 2's own
//                    125696-token SentencePiece model is not shipped)
#include "synth/preset.h"

namespace dragon {

namespace {

// Qwen/Qwen2.5-0.5B and Qwen/Qwen2.5-7B (base models) share this generation_config.json.
constexpr const char* kQwen25BaseGenerationConfig = R"({
  "bos_token_id": 151643,
  "do_sample": false,
  "eos_token_id": 151643,
  "max_new_tokens": 2048,
  "transformers_version": "4.37.0"
}
)";

Preset qwen25_05b() {
  return Preset{"qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B", "qwen3", R"({
  "architectures": [
    "Qwen2ForCausalLM"
  ],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1",
  "use_cache": true,
  "use_mrope": false,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)",
                kQwen25BaseGenerationConfig};
}

Preset qwen25_7b() {
  return Preset{"qwen2.5-7b", "Qwen/Qwen2.5-7B", "qwen3", R"({
  "architectures": [
    "Qwen2ForCausalLM"
  ],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 3584,
  "initializer_range": 0.02,
  "intermediate_size": 18944,
  "max_position_embeddings": 131072,
  "max_window_layers": 28,
  "model_type": "qwen2",
  "num_attention_heads": 28,
  "num_hidden_layers": 28,
  "num_key_value_heads": 4,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1",
  "use_cache": true,
  "use_mrope": false,
  "use_sliding_window": false,
  "vocab_size": 152064
}
)",
                kQwen25BaseGenerationConfig};
}

// DeepSeek LLM 7B: the Llama architecture with a 102400-token byte-level BPE vocabulary.
Preset deepseek_llm_7b() {
  return Preset{"deepseek-llm-7b", "deepseek-ai/deepseek-llm-7b-base", "gguf:deepseek-llm", R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "bos_token_id": 100000,
  "eos_token_id": 100001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 4096,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 30,
  "num_key_value_heads": 32,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 10000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "vocab_size": 102400
}
)",
                R"({
  "_from_model_config": true,
  "bos_token_id": 100000,
  "eos_token_id": 100001,
  "transformers_version": "4.33.1"
}
)"};
}

// GLM-4-9B-0414 (transformers-native Glm4ForCausalLM): q/k/v biases, half-rotary interleaved
// rope, fused gate_up_proj and the extra post-attention / post-MLP norms.
Preset glm4_9b() {
  return Preset{"glm-4-9b", "THUDM/GLM-4-9B-0414", "deepseek-v3", R"({
  "architectures": [
    "Glm4ForCausalLM"
  ],
  "attention_bias": true,
  "attention_dropout": 0.0,
  "eos_token_id": [
    151329,
    151336,
    151338
  ],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 13696,
  "max_position_embeddings": 32768,
  "model_type": "glm4",
  "num_attention_heads": 32,
  "num_hidden_layers": 40,
  "num_key_value_heads": 2,
  "pad_token_id": 151329,
  "partial_rotary_factor": 0.5,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.52.0.dev0",
  "use_cache": true,
  "vocab_size": 151552
}
)",
                ""};
}

// ERNIE 4.5 0.3B (transformers-native Ernie4_5ForCausalLM): head_dim 128 > hidden/heads = 64,
// tied embeddings, interleaved rope.
Preset ernie45_03b() {
  return Preset{"ernie-4.5-0.3b", "baidu/ERNIE-4.5-0.3B-PT", "gguf:deepseek-llm", R"({
  "architectures": [
    "Ernie4_5ForCausalLM"
  ],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "intermediate_size": 3072,
  "max_position_embeddings": 131072,
  "model_type": "ernie4_5",
  "num_attention_heads": 16,
  "num_hidden_layers": 18,
  "num_key_value_heads": 2,
  "pad_token_id": 0,
  "rms_norm_eps": 1e-05,
  "rope_theta": 500000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_bias": false,
  "use_cache": false,
  "vocab_size": 103424
}
)",
                ""};
}

// Yi-6B: the Llama architecture with GQA (4 kv heads) and rope_theta 5e6.
Preset yi_6b() {
  return Preset{"yi-6b", "01-ai/Yi-6B", "gguf:baichuan", R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 4096,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 4,
  "pad_token_id": 0,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 5000000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.34.0",
  "use_cache": true,
  "vocab_size": 64000
}
)",
                ""};
}

// Baichuan 2 7B: fused W_pack q/k/v, NeoX-halves rope, and a NormHead (lm_head rows are
// L2-normalised by the modeling code before use).
Preset baichuan2_7b() {
  return Preset{"baichuan2-7b", "baichuan-inc/Baichuan2-7B-Base", "gguf:deepseek-llm", R"({
  "_from_model_config": true,
  "architectures": [
    "BaichuanForCausalLM"
  ],
  "auto_map": {
    "AutoConfig": "configuration_baichuan.BaichuanConfig",
    "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"
  },
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 4096,
  "model_max_length": 4096,
  "model_type": "baichuan",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "pad_token_id": 0,
  "rms_norm_eps": 1e-06,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.29.2",
  "use_cache": true,
  "vocab_size": 125696,
  "z_loss_weight": 0
}
)",
                ""};
}

}  // namespace

std::vector<Preset> dense_presets() {
  return {qwen25_05b(), qwen25_7b(), deepseek_llm_7b(), glm4_9b(), ernie45_03b(), yi_6b(), baichuan2_7b()};
}

}  // namespace dragon
