#!/usr/bin/env bash
# MiniMax-M3 (minimax-m3: per-head QK-norm GQA with partial rope, one leading dense layer, then
# sigmoid-routed MoE + a shared expert, swigluoai everywhere, (1 + w) norms, and MiniMax Sparse
# Attention in the MoE layers) parity: dragon on a small synthetic minimax-m3 — 3 layers, the real
# head_dim 128, rotary_dim 64 and indexer dim 128, 8 experts top-2 — with MSA blocks of 4
# positions, 3 chosen per query (1 forced local): 32 positions = 8 blocks, so the later queries
# skip most of their past and dense attention fails the checks (at 40 positions, llama.cpp's dense
# fallback vs dragon's MSA: rel RMSE 0.5, argmax 15/40). Against:
#   GGUF F32 vs llama_oracle --flash-attn (F32 KV; llama.cpp runs MSA only with flash attention):
#                                        rel RMSE <= 1e-3, argmax equal at every position (llama.cpp's
#                                        CPU flash attention rounds through F16: ~4e-4 here, and the
#                                        same on a dense model, where its non-FA path gives 4e-7)
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate (sparse decode too)
#   HF F32 vs PyTorch reference (float64, written from llama.cpp's graph: no official modeling
#   code in reach):                      rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
PARITY_ORACLE_FLAGS=--flash-attn three_way_parity "MiniMax-M3" minimax-m3 3 37 "${M3_PARITY_TOKENS:-32}" \
  "MSA as a block mask" \
  --set hidden_size=64 --set num_attention_heads=8 --set num_key_value_heads=2 --set intermediate_size=32 \
  --set dense_intermediate_size=96 --set num_local_experts=8 --set num_experts_per_tok=2 \
  --set 'moe_layer_freq=[0,1,1]' --set sparse_attention_config.sparse_num_index_heads=2 \
  --set sparse_attention_config.sparse_block_size=4 --set sparse_attention_config.sparse_topk_blocks=3 \
  --set sparse_attention_config.sparse_local_block=1
