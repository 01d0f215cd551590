"""HF `architectures` string -> module name under families/ implementing its forward pass."""

ARCHITECTURES = {
    "Qwen3ForCausalLM": "qwen3",
}
