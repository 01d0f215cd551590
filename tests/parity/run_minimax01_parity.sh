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
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS="${MINIMAX01_PARITY_TOKENS:-80}"
THREADS_DRAGON="${DRAGON_THREADS:-2}"

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
start=$(date +%s.%N)

preset=minimax-m1
layers=8
sets=(--set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=1 --set intermediate_size=32
      --set num_local_experts=32 --set num_experts_per_tok=2)
synth() {  # synth FORMAT DTYPE OUT
  "$DRAGON" synth "$preset" --format "$1" --dtype "$2" --layers "$layers" --seed 29 "${sets[@]}" --out "$3" >/dev/null
}

echo "== $preset ($layers layers): $N_TOKENS positions =="
synth hf f32 "$work/hf"
synth gguf f32 "$work/f32.gguf"
vocab=$(hf_vocab_size "$work/hf")
tokens=$(prompt_tokens "$N_TOKENS" 100000)
prompt=$(prompt_tokens 8 100000)

"$ORACLE" --model "$work/f32.gguf" --tokens "$tokens" --out "$work/llama.f32" --threads "$THREADS" 2>/dev/null
t0=$(date +%s.%N)
"$DRAGON" logits --model "$work/f32.gguf" --tokens "$tokens" --out "$work/dragon.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
echo "dragon logits f32: $(echo "$(date +%s.%N) - $t0" | bc) s"
check $CMP "$work/dragon.f32" "$work/llama.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
  --label "$preset GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3

expected=$("$ORACLE" --model "$work/f32.gguf" --tokens "$prompt" --generate 16 --threads "$THREADS" 2>/dev/null | tail -1)
got=$("$DRAGON" generate --model "$work/f32.gguf" --tokens "$prompt" -n 16 --kv-type f32 --threads "$THREADS_DRAGON" 2>/dev/null)
if [ "$got" = "$expected" ]; then echo "PASS $preset generate: 16/16 tokens identical to llama.cpp"
else echo "FAIL $preset generate"; echo "  dragon: $got"; echo "  llama:  $expected"; failed+=("$preset generate"); fi

"$PY" tests/reference/reference_logits.py --model "$work/hf" --tokens "$tokens" --out "$work/ref.f32" \
  --dtype float64 --threads 1 2>/dev/null
"$DRAGON" logits --model "$work/hf" --tokens "$tokens" --out "$work/dragon-hf.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
check $CMP "$work/dragon-hf.f32" "$work/ref.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
  --label "$preset HF F32 dragon vs PyTorch (release block form)" --max-rel-rmse 1e-4
echo "MiniMax-01 parity: $(echo "$(date +%s.%N) - $start" | bc) s"

if ((${#failed[@]})); then
  echo "FAIL MiniMax-01 parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS MiniMax-01 parity"
