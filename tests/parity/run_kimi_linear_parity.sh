#!/usr/bin/env bash
# Kimi Linear (Kimi Delta Attention + MLA without rope, sigmoid MoE with a shared expert) forward
# parity: dragon on a small synthetic kimi-linear-48b-a3b — 8 layers (KDA at 1-3 and 5-7, MLA at
# 4 and 8, 1-based as the config's full_attn_layers; a dense first layer), the real KDA head dim
# 128 and conv kernel 4, the real MLA ranks (kv_lora 512, nope 128, rope 64 unrotated, v 128),
# 4 heads, 16 experts top-4 — against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64; its KDA token by token as FLA's naive reference, against
#   dragon's chunks of 32 for the prompt): rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
three_way_parity "Kimi Linear" kimi-linear-48b-a3b 8 29 "${KIMI_PARITY_TOKENS:-40}" "token-by-token KDA" \
  --set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=4 --set head_dim=16 \
  --set linear_attn_config.num_heads=4 --set intermediate_size=128 \
  --set num_experts=16 --set num_experts_per_token=4 --set moe_intermediate_size=32
