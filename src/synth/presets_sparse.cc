// Presets of the sparse-attention releases (DeepSeek Sparse Attention: models/dsa_indexer.h).
//   deepseek-v3.2  DeepSeek-V3.2-Exp / V3.2: DeepSeek-V3.1's config.json plus the indexer keys
//                  index_n_heads 64, index_head_dim 128, index_topk 2048 (the defaults of the
//                  DeepseekV32Config classes that serving engines ship); carries DeepSeek-V3's
//                  tokenizer.json, which V3.2 keeps.
//   minimax-m3     MiniMax Sparse Attention (models/msa.h) on MiniMax-M2-style GQA with a
//                  DeepSeek-V3-style MoE; config reconstructed (see the entry).
//   glm-5          GLM-5 (GlmMoeDsaForCausalLM, arch glm-dsa): V3.2's MLA + DSA body at GLM's
//                  sizes (64 heads of 192 + 64, v 256, indexer 32 heads of 128), every layer
//                  running its indexer; DeepSeek-V3's tokenizer stands in (GLM's is padded the same way).
#include "synth/preset.h"

namespace dragon {

std::vector<Preset> sparse_presets() {
  return {
      // config.json of deepseek-ai/DeepSeek-V3.2-Exp as recalled (V3.2 ships the same shape): FP8
      // e4m3 weights in 128x128 blocks with UE8M0 scales, one MTP layer, the indexer keys.
      Preset{"deepseek-v3.2", "deepseek-ai/DeepSeek-V3.2-Exp", "deepseek-v3", R"({
  "architectures": [
    "DeepseekV32ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 3,
  "hidden_act": "silu",
  "hidden_size": 7168,
  "index_head_dim": 128,
  "index_n_heads": 64,
  "index_topk": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 163840,
  "model_type": "deepseek_v32",
  "moe_intermediate_size": 2048,
  "moe_layer_freq": 1,
  "n_group": 8,
  "n_routed_experts": 256,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 61,
  "num_key_value_heads": 128,
  "num_nextn_predict_layers": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "quantization_config": {
    "activation_scheme": "dynamic",
    "fmt": "e4m3",
    "quant_method": "fp8",
    "scale_fmt": "ue8m0",
    "weight_block_size": [
      128,
      128
    ]
  },
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 40,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 4096,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "tie_word_embeddings": false,
  "topk_group": 4,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.44.2",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 129280
}
)",
             R"({
  "_from_model_config": true,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "do_sample": true,
  "temperature": 0.6,
  "top_p": 0.95,
  "transformers_version": "4.44.2"
}
)"},
      // config.json of MiniMaxAI/MiniMax-M3 (text model), RECONSTRUCTED: the release's file is not in
      // reach here. The keys are those llama.cpp's converter reads (conversion/minimax.py
      // MiniMaxM3Model: sparse_attention_config, moe_layer_freq, n_shared_experts,
      // routed_scaling_factor, rotary_dim) and MiniMax-M2's; the values are M2's where M3 keeps them
      // (head_dim 128, rotary_dim 64, vocabulary, rope_theta) and otherwise sized to the announced
      // 428B total / 23B active over llama.cpp's 60 layers (hidden 6144, 256 experts of 1536 top-8
      // plus one shared, three leading dense layers), with one indexer head per kv head as
      // llama.cpp's graph requires.
      Preset{"minimax-m3", "MiniMaxAI/MiniMax-M3", "qwen3", R"({
  "architectures": [
    "MiniMaxM3SparseForCausalLM"
  ],
  "model_type": "minimax_m3",
  "attention_bias": false,
  "dense_intermediate_size": 12288,
  "head_dim": 128,
  "hidden_act": "swigluoai",
  "hidden_size": 6144,
  "intermediate_size": 1536,
  "max_position_embeddings": 1048576,
  "moe_layer_freq": [
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1
  ],
  "n_shared_experts": 1,
  "num_attention_heads": 64,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 60,
  "num_key_value_heads": 8,
  "num_local_experts": 256,
  "rms_norm_eps": 1e-06,
  "rope_theta": 5000000,
  "rotary_dim": 64,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "sparse_attention_config": {
    "sparse_block_size": 128,
    "sparse_index_dim": 128,
    "sparse_local_block": 1,
    "sparse_num_index_heads": 8,
    "sparse_topk_blocks": 16
  },
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_routing_bias": true,
  "vocab_size": 200064
}
)",
             ""},
      // config.json of zai-org/GLM-5 as recalled, cross-checked against the defaults of
      // transformers' GlmMoeDsaConfig and xLLM's glm5.h (which cites this file): BF16, one MTP
      // layer, no indexer_types (GLM-5 and 5.1 run the indexer in every layer), default rope.
      Preset{"glm-5", "zai-org/GLM-5", "deepseek-v3", R"({
  "architectures": [
    "GlmMoeDsaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "dtype": "bfloat16",
  "eos_token_id": [
    154820,
    154827,
    154829
  ],
  "ep_size": 1,
  "first_k_dense_replace": 3,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 6144,
  "index_head_dim": 128,
  "index_n_heads": 32,
  "index_topk": 2048,
  "indexer_rope_interleave": true,
  "initializer_range": 0.02,
  "intermediate_size": 12288,
  "kv_lora_rank": 512,
  "max_position_embeddings": 202752,
  "model_type": "glm_moe_dsa",
  "moe_intermediate_size": 2048,
  "moe_layer_freq": 1,
  "n_group": 1,
  "n_routed_experts": 256,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 64,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 78,
  "num_key_value_heads": 64,
  "num_nextn_predict_layers": 1,
  "pad_token_id": 154820,
  "pretraining_tp": 1,
  "q_lora_rank": 2048,
  "qk_head_dim": 256,
  "qk_nope_head_dim": 192,
  "qk_rope_head_dim": 64,
  "rms_norm_eps": 1e-05,
  "rope_interleave": true,
  "rope_parameters": {
    "rope_theta": 1000000,
    "rope_type": "default"
  },
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "tie_word_embeddings": false,
  "topk_group": 1,
  "topk_method": "noaux_tc",
  "transformers_version": "5.0.2.dev0",
  "use_cache": true,
  "v_head_dim": 256,
  "vocab_size": 154880
}
)",
             R"({
  "_from_model_config": true,
  "do_sample": true,
  "eos_token_id": [
    154820,
    154827,
    154829
  ],
  "pad_token_id": 154820,
  "temperature": 1.0,
  "top_p": 0.95,
  "transformers_version": "5.0.2.dev0"
}
)"},
  };
}

}  // namespace dragon
