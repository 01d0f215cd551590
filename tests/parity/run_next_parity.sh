#!/usr/bin/env bash
# Qwen3-Next (hybrid Gated DeltaNet + gated attention, MoE with a gated shared expert) forward
# parity: dragon on a small synthetic qwen3-next-80b-a3b — 8 layers (6 linear-attention, 2 full
# attention), the real head_dim 256 (rotary 64), linear head dims 128 and conv kernel 4, 2 k / 4 v
# linear heads, 16 experts top-4 — against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64; its delta rule in a chunked form of its own, chunks of
#   16, against dragon's chunks of 32 for the prompt and recurrent steps for generation): rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
three_way_parity "Qwen3-Next" qwen3-next-80b-a3b 8 23 "${NEXT_PARITY_TOKENS:-40}" "chunked delta rule" \
  --set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=1 \
  --set linear_num_key_heads=2 --set linear_num_value_heads=4 \
  --set num_experts=16 --set num_experts_per_tok=4 --set moe_intermediate_size=32 \
  --set shared_expert_intermediate_size=32
