#!/usr/bin/env bash
# DeepSeek-V3.2 sparse attention (DSA) parity: dragon on a small synthetic deepseek-v3.2 — 3 layers
# (1 dense + 2 MoE), the real MLA dims (kv_lora 512, qk_nope 128, qk_rope 64, v 128, YaRN) and the
# real indexer (64 heads of 128), narrow hidden / expert widths — with index_topk set to 8, far
# below the 40-token prompt, so every position past the 8th attends to a subset the indexer picks:
#   GGUF F32 vs llama_oracle (F32 KV):      rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (24-token prompt + 16 through the cache, the decode path, F32 and F16 KV):
#                                           identical to llama_oracle --generate
#   HF F32 and HF FP8 (e4m3 + 128x128 scales) vs PyTorch reference (float64): rel RMSE <= 1e-4
#   dragon serve --parallel 3: three greedy completions sent together equal the same requests
#   sent one at a time (several sequences per batch, the prefix cache)
#   the selection matters (the test can fail): dragon with index_topk >= the prompt (dense
#   attention over the SAME weights) against llama.cpp's sparse logits must miss the bound above
#   by far (rel RMSE > 1e-2)
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS="${DSA_PARITY_TOKENS:-40}"
TOPK=8
THREADS_DRAGON="${DRAGON_THREADS:-2}"

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
source tests/parity/sparse_checks.sh  # must_differ, serve_parallel_check
start=$(date +%s.%N)

preset=deepseek-v3.2
layers=3
sets=(--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128
      --set moe_intermediate_size=32 --set n_routed_experts=16 --set n_group=4 --set topk_group=2
      --set num_experts_per_tok=4 --set q_lora_rank=64 --set first_k_dense_replace=1
      --set num_nextn_predict_layers=0)
synth() {  # synth FORMAT TOPK OUT
  "$DRAGON" synth "$preset" --format "$1" --dtype f32 --layers "$layers" --seed 31 "${sets[@]}" \
    --set index_topk="$2" --out "$3" >/dev/null
}

echo "== $preset ($layers layers, index_topk $TOPK): $N_TOKENS positions =="
synth hf $TOPK "$work/hf"
synth gguf $TOPK "$work/f32.gguf"
synth gguf 100000 "$work/dense.gguf"
vocab=$(hf_vocab_size "$work/hf")
tokens=$(prompt_tokens "$N_TOKENS" "$vocab")
prompt=$(prompt_tokens 24 "$vocab")

"$ORACLE" --model "$work/f32.gguf" --tokens "$tokens" --out "$work/llama.f32" --threads "$THREADS" 2>/dev/null
t0=$(date +%s.%N)
"$DRAGON" logits --model "$work/f32.gguf" --tokens "$tokens" --out "$work/dragon.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
echo "dragon logits f32: $(echo "$(date +%s.%N) - $t0" | bc) s"
check $CMP "$work/dragon.f32" "$work/llama.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
  --label "$preset GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3

for kv in f32 f16; do  # f16: the latent rows and indexer keys are read back from half floats
  expected=$("$ORACLE" --model "$work/f32.gguf" --tokens "$prompt" --generate 16 --kv-type $kv --threads "$THREADS" 2>/dev/null | tail -1)
  got=$("$DRAGON" generate --model "$work/f32.gguf" --tokens "$prompt" -n 16 --kv-type $kv --threads "$THREADS_DRAGON" 2>/dev/null)
  if [ "$got" = "$expected" ]; then echo "PASS $preset generate (KV $kv): 16/16 tokens identical to llama.cpp"
  else echo "FAIL $preset generate (KV $kv)"; echo "  dragon: $got"; echo "  llama:  $expected"; failed+=("$preset generate $kv"); fi
done

"$PY" tests/reference/reference_logits.py --model "$work/hf" --tokens "$tokens" --out "$work/ref.f32" \
  --dtype float64 --threads 1 2>/dev/null
"$DRAGON" logits --model "$work/hf" --tokens "$tokens" --out "$work/dragon-hf.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
check $CMP "$work/dragon-hf.f32" "$work/ref.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
  --label "$preset HF F32 dragon vs PyTorch" --max-rel-rmse 1e-4

# The release's form: FP8 e4m3 projections (indexer wq_b / wk too) with 128x128 scales,
# weights_proj in BF16.
"$DRAGON" synth "$preset" --format hf --dtype fp8 --layers "$layers" --seed 31 "${sets[@]}" --set index_topk=$TOPK \
  --out "$work/hf-fp8" >/dev/null
"$PY" tests/reference/reference_logits.py --model "$work/hf-fp8" --tokens "$tokens" --out "$work/ref-fp8.f32" \
  --dtype float64 --threads 1 2>/dev/null
"$DRAGON" logits --model "$work/hf-fp8" --tokens "$tokens" --out "$work/dragon-fp8.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
check $CMP "$work/dragon-fp8.f32" "$work/ref-fp8.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
  --label "$preset HF FP8 dragon vs PyTorch" --max-rel-rmse 1e-4

# The selection has to matter, or the checks above would pass a dense implementation.
"$DRAGON" logits --model "$work/dense.gguf" --tokens "$tokens" --out "$work/dragon-dense.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
must_differ "$preset dragon DENSE vs llama.cpp sparse" "$work/dragon-dense.f32" "$work/llama.f32" "$vocab" "$N_TOKENS"

# Several sequences in one batch (dragon serve --parallel 3: each sequence's own keys and top-k;
# a repeated prompt resumes from the prefix cache, indexer keys included): three greedy
# completions sent together must equal the same requests sent one at a time.
serve_parallel_check "$preset" "$work/f32.gguf"

echo "DSA parity: $(echo "$(date +%s.%N) - $start" | bc) s"

if ((${#failed[@]})); then
  echo "FAIL DSA parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS DSA parity"
