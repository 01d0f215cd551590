#!/usr/bin/env bash
# Tencent Hy3 (hy_v3: QK-norm GQA, one leading dense layer, then sigmoid-routed MoE with an
# expert-selection bias, route_norm, router_scaling_factor 2.826 and an ungated shared expert; an MTP
# block the forward pass does not run) parity: dragon on a small synthetic hy3-preview — 4 layers +
# the MTP layer, the real head_dim 128, vocabulary and GQA, 16 experts top-4 — against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64, written from transformers' modeling_hy_v3.py): rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
three_way_parity "Hy3" hy3-preview 4 31 "${HY3_PARITY_TOKENS:-40}" "" \
  --set hidden_size=64 --set num_attention_heads=8 --set num_key_value_heads=1 --set intermediate_size=96 \
  --set num_experts=16 --set num_experts_per_tok=4 --set moe_intermediate_size=32 --set expert_hidden_dim=32
