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
#   the selection matters (the checks above can fail): llama.cpp's dense fallback (no flash
#   attention) against dragon's MSA logits must miss the bound by far (rel RMSE > 1e-2)
#   dragon serve --parallel 3: three greedy completions sent together equal the same requests
#   sent one at a time (several sequences per batch, each with its own indexer keys; the prefix cache)
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
source tests/parity/sparse_checks.sh
n_tokens="${M3_PARITY_TOKENS:-32}"
PARITY_ORACLE_FLAGS=--flash-attn three_way_parity "MiniMax-M3" minimax-m3 3 37 "$n_tokens" \
  "MSA as a block mask" \
  --set hidden_size=64 --set num_attention_heads=8 --set num_key_value_heads=2 --set intermediate_size=32 \
  --set dense_intermediate_size=96 --set num_local_experts=8 --set num_experts_per_tok=2 \
  --set 'moe_layer_freq=[0,1,1]' --set sparse_attention_config.sparse_num_index_heads=2 \
  --set sparse_attention_config.sparse_block_size=4 --set sparse_attention_config.sparse_topk_blocks=3 \
  --set sparse_attention_config.sparse_local_block=1

# three_way_parity leaves its model and logits in $work (removed at exit).
DRAGON="$BUILD/dragon" THREADS_DRAGON="${DRAGON_THREADS:-2}"
failed=()
vocab=$(hf_vocab_size "$work/hf")
"$ORACLE" --model "$work/f32.gguf" --tokens "$(prompt_tokens "$n_tokens" 100000)" --out "$work/llama-dense.f32" \
  --threads "$THREADS" 2>/dev/null
must_differ "minimax-m3 llama.cpp DENSE vs dragon MSA" "$work/dragon.f32" "$work/llama-dense.f32" "$vocab" "$n_tokens"
serve_parallel_check minimax-m3 "$work/f32.gguf"
if ((${#failed[@]})); then
  echo "FAIL MiniMax-M3 sparse checks: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS MiniMax-M3 sparse checks"
