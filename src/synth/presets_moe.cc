// MoE / MLA presets: the config.json (and generation_config.json where known) of the releases,
// kept as raw string literals. Each entry says where its text comes from; see preset.h for the
// tokenizer field. Real vocabularies: deepseek-moe-16b and deepseek-v2-lite carry their own
// 102400-token vocabulary (llama.cpp's ggml-vocab-deepseek-llm.gguf); the others carry a real
// tokenizer of a related family padded to their vocab_size, as the converter pads.
#include "synth/preset.h"

namespace dragon {

namespace {

// Identical for every Qwen3 release (dense and MoE).
constexpr const char* kQwen3GenerationConfig = R"({
  "bos_token_id": 151643,
  "do_sample": true,
  "eos_token_id": [
    151645,
    151643
  ],
  "pad_token_id": 151643,
  "temperature": 0.6,
  "top_k": 20,
  "top_p": 0.95,
  "transformers_version": "4.51.0"
}
)";

}  // namespace

std::vector<Preset> moe_presets() {
  return {
      // config.json of Qwen/Qwen3-30B-A3B, verbatim (cross-checked against a published copy of the
      // Qwen3 family configs); generation_config.json is the Qwen3 family's.
      Preset{"qwen3-30b-a3b", "Qwen/Qwen3-30B-A3B", "qwen3", R"({
  "architectures": [
    "Qwen3MoeForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "decoder_sparse_step": 1,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 6144,
  "max_position_embeddings": 40960,
  "max_window_layers": 48,
  "mlp_only_layers": [],
  "model_type": "qwen3_moe",
  "moe_intermediate_size": 768,
  "norm_topk_prob": true,
  "num_attention_heads": 32,
  "num_experts": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 48,
  "num_key_value_heads": 4,
  "output_router_logits": false,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000.0,
  "router_aux_loss_coef": 0.001,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)",
             kQwen3GenerationConfig},
      // config.json of deepseek-ai/deepseek-moe-16b-base as published in a parameter-counting test
      // fixture (GitHub); no generation_config.json is included (its contents could not be checked).
      Preset{"deepseek-moe-16b", "deepseek-ai/deepseek-moe-16b-base", "gguf:deepseek-llm", R"({
  "architectures": [
    "DeepseekForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekConfig",
    "AutoModel": "modeling_deepseek.DeepseekModel",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekForCausalLM"
  },
  "bos_token_id": 100000,
  "eos_token_id": 100001,
  "first_k_dense_replace": 1,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 10944,
  "max_position_embeddings": 4096,
  "model_type": "deepseek",
  "moe_intermediate_size": 1408,
  "moe_layer_freq": 1,
  "n_routed_experts": 64,
  "n_shared_experts": 2,
  "norm_topk_prob": false,
  "num_attention_heads": 16,
  "num_experts_per_tok": 6,
  "num_hidden_layers": 28,
  "num_key_value_heads": 16,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 10000,
  "scoring_func": "softmax",
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.36.0",
  "use_cache": true,
  "vocab_size": 102400
}
)",
             ""},
      // config.json of deepseek-ai/DeepSeek-V2-Lite (cross-checked against two GitHub test fixtures that
      // copy it; the HF-bookkeeping keys auto_map / pretraining_tp / transformers_version / use_cache
      // as in the release). q_lora_rank null = no q compression.
      Preset{"deepseek-v2-lite", "deepseek-ai/DeepSeek-V2-Lite", "gguf:deepseek-llm", R"({
  "architectures": [
    "DeepseekV2ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV2Config",
    "AutoModel": "modeling_deepseek.DeepseekV2Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV2ForCausalLM"
  },
  "aux_loss_alpha": 0.001,
  "bos_token_id": 100000,
  "eos_token_id": 100001,
  "first_k_dense_replace": 1,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 10944,
  "kv_lora_rank": 512,
  "max_position_embeddings": 163840,
  "model_type": "deepseek_v2",
  "moe_intermediate_size": 1408,
  "moe_layer_freq": 1,
  "n_group": 1,
  "n_routed_experts": 64,
  "n_shared_experts": 2,
  "norm_topk_prob": false,
  "num_attention_heads": 16,
  "num_experts_per_tok": 6,
  "num_hidden_layers": 27,
  "num_key_value_heads": 16,
  "pretraining_tp": 1,
  "q_lora_rank": null,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 40,
    "mscale": 0.707,
    "mscale_all_dim": 0.707,
    "original_max_position_embeddings": 4096,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 1.0,
  "scoring_func": "softmax",
  "seq_aux": true,
  "tie_word_embeddings": false,
  "topk_group": 1,
  "topk_method": "greedy",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 102400
}
)",
             ""},
      // config.json and generation_config.json of deepseek-ai/DeepSeek-V3 (cross-checked against the
      // release's README_WEIGHTS.md and test fixtures): FP8 e4m3 weights in 128x128 blocks, one MTP
      // layer (num_nextn_predict_layers). Kimi K2 has this shape with 384 experts and 64 heads.
      Preset{"deepseek-v3", "deepseek-ai/DeepSeek-V3", "deepseek-v3", R"({
  "architectures": [
    "DeepseekV3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "aux_loss_alpha": 0.001,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 3,
  "hidden_act": "silu",
  "hidden_size": 7168,
  "initializer_range": 0.02,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 163840,
  "model_type": "deepseek_v3",
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
  "pretraining_tp": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "quantization_config": {
    "activation_scheme": "dynamic",
    "fmt": "e4m3",
    "quant_method": "fp8",
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
  "seq_aux": true,
  "tie_word_embeddings": false,
  "topk_group": 4,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
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
  "transformers_version": "4.46.3"
}
)"},
      // config.json of moonshotai/Kimi-K2-Instruct (July 2025 release) as recalled, cross-checked against
      // a hub inspection report of Kimi-K2-Instruct-0905 (61 layers, hidden 7168, 64 heads, 64 kv heads,
      // vocab 163840, rope_theta 50000; the 0905 revision raises the YaRN factor to 64 for 256k context).
      // DeepSeek-V3's architecture with 384 experts, 64 heads, one dense layer, no group limit and no MTP
      // layer. The real tokenizer is tiktoken-based (no tokenizer.json): DeepSeek-V3's stands in, padded.
      Preset{"kimi-k2", "moonshotai/Kimi-K2-Instruct", "deepseek-v3", R"({
  "architectures": [
    "DeepseekV3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "aux_loss_alpha": 0.001,
  "bos_token_id": 163584,
  "eos_token_id": 163585,
  "ep_size": 1,
  "first_k_dense_replace": 1,
  "hidden_act": "silu",
  "hidden_size": 7168,
  "initializer_range": 0.02,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 131072,
  "model_type": "kimi_k2",
  "moe_intermediate_size": 2048,
  "moe_layer_freq": 1,
  "n_group": 1,
  "n_routed_experts": 384,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 64,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 61,
  "num_key_value_heads": 64,
  "num_nextn_predict_layers": 0,
  "pretraining_tp": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "quantization_config": {
    "activation_scheme": "dynamic",
    "fmt": "e4m3",
    "quant_method": "fp8",
    "weight_block_size": [
      128,
      128
    ]
  },
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 1.0,
    "beta_slow": 1.0,
    "factor": 32.0,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 4096,
    "type": "yarn"
  },
  "rope_theta": 50000.0,
  "routed_scaling_factor": 2.827,
  "scoring_func": "sigmoid",
  "seq_aux": true,
  "tie_word_embeddings": false,
  "topk_group": 1,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.48.3",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 163840
}
)",
             ""},
      // config.json of zai-org/GLM-4.5-Air, from its model card / hub copy as recalled and cross-checked
      // against the GLM-4.5V text config (same language model) and GLM-4.5 fixtures on GitHub; no
      // generation_config.json (unchecked).
      Preset{"glm-4.5-air", "zai-org/GLM-4.5-Air", "deepseek-v3", R"({
  "architectures": [
    "Glm4MoeForCausalLM"
  ],
  "attention_bias": true,
  "attention_dropout": 0.0,
  "pad_token_id": 151329,
  "eos_token_id": [
    151329,
    151336,
    151338
  ],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "partial_rotary_factor": 0.5,
  "initializer_range": 0.02,
  "intermediate_size": 10944,
  "max_position_embeddings": 131072,
  "model_type": "glm4_moe",
  "moe_intermediate_size": 1408,
  "norm_topk_prob": true,
  "num_attention_heads": 96,
  "n_group": 1,
  "topk_group": 1,
  "n_routed_experts": 128,
  "n_shared_experts": 1,
  "routed_scaling_factor": 1.0,
  "num_experts_per_tok": 8,
  "first_k_dense_replace": 1,
  "num_hidden_layers": 46,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "num_nextn_predict_layers": 1,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.54.0",
  "use_cache": true,
  "use_qk_norm": false,
  "vocab_size": 151552
}
)",
             ""},
      // config.json of MiniMaxAI/MiniMax-M2: the copy printed in msmodelslim's MiniMax-M2 guide (which
      // removes only quantization_config) with the release's FP8 quantization_config put back
      // (block 128x128, gate / e_score_correction_bias / lm_head unquantised, as in vLLM tests).
      Preset{"minimax-m2", "MiniMaxAI/MiniMax-M2", "qwen3", R"({
  "architectures": [
    "MiniMaxM2ForCausalLM"
  ],
  "attn_type_list": [
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
    1,
    1,
    1,
    1,
    1,
    1
  ],
  "auto_map": {
    "AutoConfig": "configuration_minimax_m2.MiniMaxM2Config",
    "AutoModelForCausalLM": "modeling_minimax_m2.MiniMaxM2ForCausalLM"
  },
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 3072,
  "intermediate_size": 1536,
  "max_position_embeddings": 196608,
  "model_type": "minimax_m2",
  "mtp_transformer_layers": 1,
  "num_attention_heads": 48,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 62,
  "num_key_value_heads": 8,
  "num_local_experts": 256,
  "num_mtp_modules": 3,
  "qk_norm_type": "per_layer",
  "quantization_config": {
    "activation_scheme": "dynamic",
    "fmt": "float8_e4m3fn",
    "quant_method": "fp8",
    "weight_block_size": [
      128,
      128
    ],
    "modules_to_not_convert": [
      "gate",
      "e_score_correction_bias",
      "lm_head"
    ]
  },
  "rms_norm_eps": 1e-06,
  "rope_theta": 5000000,
  "rotary_dim": 64,
  "scoring_func": "sigmoid",
  "shared_intermediate_size": 0,
  "tie_word_embeddings": false,
  "transformers_version": "4.46.1",
  "use_cache": true,
  "use_mtp": true,
  "use_qk_norm": true,
  "use_routing_bias": true,
  "vocab_size": 200064
}
)",
             ""},
      // config.json of baidu/ERNIE-4.5-21B-A3B-PT as recalled, cross-checked key by key against the
      // MindIE and vLLM-ecosystem fixtures that copy its values (moe_layer_end_index 27 included).
      Preset{"ernie-4.5-21b-a3b", "baidu/ERNIE-4.5-21B-A3B-PT", "gguf:deepseek-llm", R"({
  "architectures": [
    "Ernie4_5_MoeForCausalLM"
  ],
  "auto_map": {
    "AutoConfig": "configuration_ernie4_5_moe.Ernie4_5_MoeConfig",
    "AutoModel": "modeling_ernie4_5_moe.Ernie4_5_Model",
    "AutoModelForCausalLM": "modeling_ernie4_5_moe.Ernie4_5_MoeForCausalLM"
  },
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 2560,
  "intermediate_size": 12288,
  "max_position_embeddings": 131072,
  "model_type": "ernie4_5_moe",
  "num_attention_heads": 20,
  "num_key_value_heads": 4,
  "num_hidden_layers": 28,
  "pad_token_id": 0,
  "rms_norm_eps": 1e-05,
  "use_cache": false,
  "vocab_size": 103424,
  "rope_theta": 500000,
  "use_bias": false,
  "tie_word_embeddings": true,
  "moe_num_experts": 64,
  "moe_num_shared_experts": 2,
  "moe_layer_start_index": 1,
  "moe_layer_end_index": 27,
  "moe_intermediate_size": 1536,
  "moe_capacity": [
    64,
    64,
    64
  ],
  "moe_gate": "topk",
  "moe_k": 6,
  "moe_layer_interval": 1,
  "moe_use_aux_free": true,
  "torch_dtype": "bfloat16"
}
)",
             ""},
      // config.json of tencent/Hunyuan-A13B-Instruct, reconstructed from memory WITHOUT the unused
      // vision keys (anyres_*, vit_*, im_*, ...); every key that dragon, llama.cpp's converter or the
      // HF modeling code reads is as released (cross-checked against llama.cpp's conversion/hunyuan.py
      // assertions: alpha 1000, theta 10000, head dim 128, max_position_embeddings 32768).
      Preset{"hunyuan-a13b", "tencent/Hunyuan-A13B-Instruct", "gguf:deepseek-llm", R"({
  "architectures": [
    "HunYuanMoEV1ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.1,
  "attention_head_dim": 128,
  "auto_map": {
    "AutoConfig": "configuration_hunyuan.HunYuanConfig",
    "AutoModel": "hunyuan.HunYuanModel",
    "AutoModelForCausalLM": "hunyuan.HunYuanMoEV1ForCausalLM"
  },
  "bos_token_id": 1,
  "cla_share_factor": 2,
  "eod_token_id": 127967,
  "eos_token_id": 127960,
  "group_limited_greedy": false,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "kv_lora_rank": null,
  "max_position_embeddings": 32768,
  "mlp_bias": false,
  "model_type": "hunyuan",
  "moe_drop_tokens": false,
  "moe_intermediate_size": [
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072,
    3072
  ],
  "moe_layer_num_skipped": 0,
  "moe_random_routing_dropped_token": false,
  "moe_topk": [
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8,
    8
  ],
  "n_group": false,
  "norm_topk_prob": true,
  "norm_type": "rms",
  "num_attention_heads": 32,
  "num_experts": 64,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "num_shared_expert": [
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
  "pad_id": 127961,
  "pad_token_id": 127961,
  "pool_type": "last",
  "position_embedding_xdrope": false,
  "pretraining_tp": 1,
  "q_lora_rank": null,
  "qk_nope_head_dim": null,
  "qk_rope_head_dim": null,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "alpha": 1000.0,
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 1.0,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "type": "dynamic"
  },
  "rope_theta": 10000.0,
  "routed_scaling_factor": false,
  "sep_token_id": 127962,
  "skip_cls_token": false,
  "tie_word_embeddings": true,
  "topk_group": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.41.2",
  "use_cache": true,
  "use_cla": false,
  "use_mixed_mlp_moe": true,
  "use_mla": false,
  "use_qk_norm": true,
  "use_rotary_pos_emb": true,
  "v_head_dim": null,
  "vocab_size": 128167
}
)",
             ""},
      // config.json of tencent/Hy3-preview, reconstructed: the release's file is not in reach here,
      // so the keys are those that four independent public copies quote alike (vLLM / MLX / Rust /
      // Swift loaders' tests of the real config: 80 layers, 192 experts top-8, moe 1536, dense
      // 13312, router_scaling_factor 2.826, route_norm, rope_theta 11158840, eps 1e-5, vocab 120832,
      // one MTP layer), plus the token ids of the Hy tokenizer family (Hy-MT2 shares its vocab).
      Preset{"hy3-preview", "tencent/Hy3-preview", "gguf:deepseek-llm", R"({
  "architectures": [
    "HYV3ForCausalLM"
  ],
  "model_type": "hy_v3",
  "attention_bias": false,
  "bos_token_id": 120000,
  "eos_token_id": 120025,
  "pad_token_id": 120002,
  "enable_lm_head_fp32": true,
  "enable_moe_fp32_combine": false,
  "expert_hidden_dim": 1536,
  "first_k_dense_replace": 1,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "intermediate_size": 13312,
  "max_position_embeddings": 262144,
  "moe_intermediate_size": 1536,
  "moe_router_enable_expert_bias": true,
  "moe_router_use_sigmoid": true,
  "num_attention_heads": 64,
  "num_experts": 192,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 80,
  "num_key_value_heads": 8,
  "num_nextn_predict_layers": 1,
  "num_shared_experts": 1,
  "output_router_logits": false,
  "qk_norm": true,
  "rms_norm_eps": 1e-05,
  "rope_parameters": {
    "rope_theta": 11158840.0,
    "rope_type": "default"
  },
  "route_norm": true,
  "router_scaling_factor": 2.826,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 120832
}
)",
             ""},
      // config.json of tencent/Hy4-preview, RECONSTRUCTED: neither the release's file nor an HYV4
      // converter is in reach here. What public sources state is kept (78 layers, the first dense,
      // 256 routed experts top-8 + 1 shared, sigmoid routing with a correction bias, MLA, iHC,
      // gated MLA with learnable sinks, 1M context, one MTP layer, the Hy vocab); the sizes are
      // DeepSeek-V3-like guesses that land near the stated 770B total / 49B active, and the key
      // names are DeepSeek-V3's plus hc_mult / hc_eps / hc_magnitude / swiglu_limit. The release
      // runs DSA (index_topk, indexer_types); dragon's hy_v4 does not yet, so it is left out here.
      Preset{"hy4-preview", "tencent/Hy4-preview", "gguf:deepseek-llm", R"({
  "architectures": [
    "HYV4ForCausalLM"
  ],
  "model_type": "hy_v4",
  "attention_bias": false,
  "bos_token_id": 120000,
  "eos_token_id": 120025,
  "pad_token_id": 120002,
  "first_k_dense_replace": 1,
  "hc_eps": 1e-06,
  "hc_magnitude": 2.0,
  "hc_mult": 4,
  "hidden_act": "silu",
  "hidden_size": 6144,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 1048576,
  "moe_intermediate_size": 2048,
  "n_group": 1,
  "n_routed_experts": 256,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 96,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 78,
  "num_key_value_heads": 96,
  "num_nextn_predict_layers": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000000.0,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "swiglu_limit": 10.0,
  "tie_word_embeddings": false,
  "topk_group": 1,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 120832
}
)",
             ""},
  };
}

}  // namespace dragon
