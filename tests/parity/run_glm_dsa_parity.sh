#!/usr/bin/env bash
# GLM-5 (glm-dsa: DeepSeek-V3.2's MLA + lightning indexer + sigmoid-routed MoE with a shared expert,
# the indexer's rope in adjacent pairs) parity: dragon on a small synthetic glm-5 — 3 layers (1 dense
# + 2 MoE), GLM-5's real MLA dims (kv_lora 512, qk_nope 192, qk_rope 64, v 256) and indexer (32 heads
# of 128), narrow hidden / expert widths — with index_topk 8, far below the 40-token prompt, so every
# position past the 8th attends to the subset the indexer picks:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (8-token prompt + 16 through the cache, the sparse decode path):
#                                        identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64, tests/reference/families/glm_moe_dsa.py, written from
#   transformers' modular_glm_moe_dsa.py): rel RMSE <= 1e-4
#   the selection matters (the test can fail): dragon with index_topk >= the prompt (dense attention
#   over the SAME weights) against llama.cpp's sparse logits must miss the bound by far (> 1e-2)
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/parity/three_way_parity.sh
n_tokens="${GLM_DSA_PARITY_TOKENS:-40}"
sets=(--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128
      --set moe_intermediate_size=32 --set n_routed_experts=16 --set num_experts_per_tok=4 --set q_lora_rank=64
      --set first_k_dense_replace=1 --set num_nextn_predict_layers=0)
three_way_parity "GLM-5" glm-5 3 37 "$n_tokens" "" "${sets[@]}" --set index_topk=8

# The same weights (same seed) with an indexer that keeps every position: dense MLA attention.
"$BUILD/dragon" synth glm-5 --format gguf --dtype f32 --layers 3 --seed 37 "${sets[@]}" --set index_topk=100000 \
  --out "$work/dense.gguf" >/dev/null
"$BUILD/dragon" logits --model "$work/dense.gguf" --tokens "$(prompt_tokens "$n_tokens" 100000)" \
  --out "$work/dragon-dense.f32" --kv-type f32 --threads "${DRAGON_THREADS:-2}" 2>/dev/null
vocab=$(hf_vocab_size "$work/hf")
if out=$($PY tests/parity/dense_compare.py "$work/dragon-dense.f32" "$work/llama.f32" --tokens "$n_tokens" \
    --vocab "$vocab" --label "glm-5 dragon DENSE vs llama.cpp sparse" --max-rel-rmse 1e-2 --min-argmax 0); then
  echo "$out"; echo "FAIL glm-5: dense attention is indistinguishable from the sparse selection"; exit 1
fi
echo "$out" | grep -v '^  position' | sed 's/^FAIL /(expected to miss) /'
echo "PASS glm-5 dense vs sparse: dense attention misses the bound (the checks above can fail)"
