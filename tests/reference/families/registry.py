"""HF `architectures` string -> module name under families/ implementing its forward pass."""

ARCHITECTURES = {
    "Qwen3ForCausalLM": "qwen3",
    "Qwen2ForCausalLM": "qwen2",
    "LlamaForCausalLM": "llama",
    "Glm4ForCausalLM": "glm4",
    "Ernie4_5ForCausalLM": "ernie4_5",
    "BaichuanForCausalLM": "baichuan",
    "Qwen3MoeForCausalLM": "qwen3moe",
    "DeepseekForCausalLM": "deepseek_moe",
    "Ernie4_5_MoeForCausalLM": "ernie4_5_moe",
    "Glm4MoeForCausalLM": "glm4moe",
    "MiniMaxM2ForCausalLM": "minimax_m2",
    "HunYuanMoEV1ForCausalLM": "hunyuan_moe",
    "DeepseekV2ForCausalLM": "deepseek_v2",
    "DeepseekV3ForCausalLM": "deepseek_v2",
    "Qwen3NextForCausalLM": "qwen3_next",
    "HYV3ForCausalLM": "hy_v3",
}
