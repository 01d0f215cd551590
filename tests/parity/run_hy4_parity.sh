#!/usr/bin/env bash
# Tencent Hy4 (hy_v4: DeepSeek-V3's MLA with a learnable sink logit per head and a sigmoid gate on
# the attention output, 4 independent hyper-connection streams mixed before / after every sublayer
# and collapsed by the hc head, one leading dense layer, then sigmoid-routed MoE whose routed SwiGLU
# is clamped at swiglu_limit) parity: dragon on a small synthetic hy4-preview — 3 layers, 4 heads
# of 16+16 (q_lora / kv_lora 32), 8 experts top-2, swiglu_limit 1 so the clamp bites — against:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64; decompressed MLA, written from the Hy4 docs and the
#   llama.cpp math since the official modeling code was not in reach): rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
three_way_parity "Hy4" hy4-preview 3 41 "${HY4_PARITY_TOKENS:-40}" "decompressed MLA" \
  --set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=4 --set intermediate_size=96 \
  --set moe_intermediate_size=32 --set n_routed_experts=8 --set num_experts_per_tok=2 --set q_lora_rank=32 \
  --set kv_lora_rank=32 --set qk_nope_head_dim=16 --set qk_rope_head_dim=16 --set v_head_dim=16 \
  --set swiglu_limit=1.0
