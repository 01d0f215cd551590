#!/usr/bin/env bash
# Kimi-K3 (Kimi Linear's KDA + MLA hybrid with block attention residuals, a latent MoE, SiTU, an
# MLA output gate and a full-rank, lower-bounded KDA gate) forward parity: dragon on a small
# synthetic kimi-k3 — 8 layers (KDA at 1-3 and 5-7, MLA at 4 and 8, 1-based as the config's
# full_attn_layers; a dense first layer), attention residual blocks of 3 (checkpoints banked at
# layers 0, 3, 6, so every mix sees 1 to 3 of them), the real KDA head dim 128, conv kernel 4 and
# gate_lower_bound -5, the real MLA ranks (q_lora 1536, kv_lora 512, nope 128, rope 64
# unrotated, v 128), 4 heads, 16 experts top-4 in a 32-wide latent + 2 shared, SiTU beta 4 /
# linear beta 25 — against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64, families/kimi_k3.py; its KDA token by token):
#                                        rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
t=text_config
three_way_parity "Kimi-K3" kimi-k3 8 37 "${KIMI_K3_PARITY_TOKENS:-40}" "token-by-token KDA" \
  --set $t.hidden_size=64 --set $t.num_attention_heads=4 --set $t.num_key_value_heads=4 \
  --set $t.linear_attn_config.num_heads=4 --set $t.intermediate_size=128 --set $t.attn_res_block_size=3 \
  --set $t.num_experts=16 --set $t.num_experts_per_token=4 --set $t.moe_intermediate_size=32 \
  --set $t.routed_expert_hidden_size=32
