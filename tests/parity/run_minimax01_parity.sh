#!/usr/bin/env bash
# MiniMax-M1 / MiniMax-Text-01 (lightning attention + softmax attention, softmax top-2 MoE, DeepNorm
# residual alphas) forward parity: dragon on a small synthetic minimax-m1 — 8 layers (7 lightning,
# 1 softmax attention, the release's pattern), the real head_dim 128 and rotary_dim 64, 4 heads
# (1 kv head in the softmax layer), 32 experts top-2, alpha 3.5566 with postnorm — against:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#                                        (llama.cpp: the whole prompt as ONE block; dragon: blocks of 64)
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate (the decode recurrence)
#   HF F32 vs PyTorch reference (float64, the release's block form with blocks of 16): rel RMSE <= 1e-4
# 80 positions, so dragon's prompt pass spans two blocks and carries the state between them.
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
three_way_parity "MiniMax-01" minimax-m1 8 29 "${MINIMAX01_PARITY_TOKENS:-80}" "release block form" \
  --set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=1 --set intermediate_size=32 \
  --set num_local_experts=32 --set num_experts_per_tok=2
