#!/usr/bin/env bash
# MoE forward pass parity: dragon on small synthetic Qwen3-MoE (128 experts, top-8, renormalised),
# DeepSeek-MoE 16B (64 experts, top-6, raw softmax weights, 2 shared experts, 1 dense + 2 MoE
# layers) and ERNIE-4.5-21B-A3B (64 experts, top-6, moe_statics selection bias, 2 shared experts,
# 1 dense + 2 MoE layers) — the real expert counts and top-k, real vocabularies and head_dim,
# narrow widths — against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   GGUF Q8_0 (+ Q4_K for Qwen3-MoE):    dragon's mean KL to the F32 truth (llama.cpp on the F32
#                                        file) <= 1.1x llama.cpp's on the same quantized file
#   HF F32 vs PyTorch reference (float64): rel RMSE <= 1e-4, argmax equal
# The per-token routing (experts and weights) against the reference is checked by the gtest
# tests/models/moe_reference_test.cc.
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS="${MOE_PARITY_TOKENS:-32}"
THREADS_DRAGON="${DRAGON_THREADS:-2}"

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
start=$(date +%s.%N)

# PRESET LAYERS QUANT_TYPES --set...: head_dim 128 as released (DeepSeek and ERNIE derive it from
# hidden / heads). The vocabulary dominates the cost, so only Qwen3-MoE gets hidden 256, which
# makes the experts' gate/up rows Q4_K blocks (256), and ties its embeddings to halve the vocabulary
# weights (the untied head is the dense models' path); at hidden 128 Q4_K would fall back to Q5_0,
# so the other two check Q8_0 only.
families=(
  "qwen3-30b-a3b 2 q8_0,q4_k --set hidden_size=256 --set num_attention_heads=4 --set num_key_value_heads=1 --set moe_intermediate_size=32 --set tie_word_embeddings=true"
  "deepseek-moe-16b 3 q8_0 --set hidden_size=128 --set num_attention_heads=1 --set num_key_value_heads=1 --set intermediate_size=128 --set moe_intermediate_size=32"
  "ernie-4.5-21b-a3b 3 q8_0 --set hidden_size=128 --set num_attention_heads=1 --set num_key_value_heads=1 --set intermediate_size=128 --set moe_intermediate_size=32"
)

for family in "${families[@]}"; do
  read -r preset layers quants sets <<<"$family"
  synth() {  # synth FORMAT DTYPE OUT
    # shellcheck disable=SC2086
    "$DRAGON" synth "$preset" --format "$1" --dtype "$2" --layers "$layers" --seed 17 $sets --out "$3" >/dev/null
  }
  echo "== $preset ($layers layers): $N_TOKENS positions =="
  synth hf f32 "$work/hf"
  vocab=$(hf_vocab_size "$work/hf")
  tokens=$(prompt_tokens "$N_TOKENS" "$((vocab < 100000 ? vocab : 100000))")
  prompt=$(prompt_tokens 8 "$((vocab < 100000 ? vocab : 100000))")

  for dtype in f32 ${quants//,/ }; do
    synth gguf "$dtype" "$work/$dtype.gguf"
    "$ORACLE" --model "$work/$dtype.gguf" --tokens "$tokens" --out "$work/llama-$dtype.f32" --threads "$THREADS" 2>/dev/null
    t0=$(date +%s.%N)
    "$DRAGON" logits --model "$work/$dtype.gguf" --tokens "$tokens" --out "$work/dragon-$dtype.f32" --kv-type f32 \
      --threads "$THREADS_DRAGON" 2>/dev/null
    echo "dragon logits $dtype: $(echo "$(date +%s.%N) - $t0" | bc) s"
  done
  check $CMP "$work/dragon-f32.f32" "$work/llama-f32.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$preset GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3
  for dtype in ${quants//,/ }; do
    check $CMP "$work/dragon-$dtype.f32" "$work/llama-$dtype.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
      --label "$preset GGUF ${dtype^^} dragon vs llama.cpp" --min-argmax 0 \
      --truth "$work/llama-f32.f32" --other "$work/llama-$dtype.f32" --max-kl-ratio 1.1 --kl-statistic median
  done

  expected=$("$ORACLE" --model "$work/f32.gguf" --tokens "$prompt" --generate 16 --threads "$THREADS" 2>/dev/null | tail -1)
  got=$("$DRAGON" generate --model "$work/f32.gguf" --tokens "$prompt" -n 16 --kv-type f32 --threads "$THREADS_DRAGON" 2>/dev/null)
  if [ "$got" = "$expected" ]; then echo "PASS $preset generate: 16/16 tokens identical to llama.cpp"
  else echo "FAIL $preset generate"; echo "  dragon: $got"; echo "  llama:  $expected"; failed+=("$preset generate"); fi

  "$PY" tests/reference/reference_logits.py --model "$work/hf" --tokens "$tokens" --out "$work/ref.f32" \
    --dtype float64 --threads 1 2>/dev/null
  "$DRAGON" logits --model "$work/hf" --tokens "$tokens" --out "$work/dragon-hf.f32" --kv-type f32 \
    --threads "$THREADS_DRAGON" 2>/dev/null
  check $CMP "$work/dragon-hf.f32" "$work/ref.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$preset HF F32 dragon vs PyTorch" --max-rel-rmse 1e-4
  rm -rf "$work/hf" "$work"/*.gguf
done
echo "MoE parity: $(echo "$(date +%s.%N) - $start" | bc) s"

if ((${#failed[@]})); then
  echo "FAIL MoE parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS MoE parity"
