# Sourced by the per-family parity scripts (run_next_parity.sh, run_kimi_linear_parity.sh, run_kimi_k3_parity.sh,
# run_minimax01_parity.sh, run_hy3_parity.sh): the same three checks on one small synthetic model,
# written once. Each caller's header says what its family's model exercises.
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs the PyTorch reference (float64):  rel RMSE <= 1e-4
# Prints every measured figure; exits 1 naming the failed checks.
#
# Usage (from a script that has done `cd` to the repo root):
#   source tests/parity/three_way_parity.sh
#   three_way_parity NAME PRESET LAYERS SEED N_TOKENS REFERENCE_NOTE [--set KEY=VALUE ...]
# NAME names the run in the summary ("Kimi Linear"); REFERENCE_NOTE goes into the HF check's
# label (how the reference computes, e.g. "token-by-token KDA"; empty for none).
# PARITY_ORACLE_FLAGS: extra llama_oracle flags (e.g. --flash-attn, which MiniMax-M3's sparse
# attention needs in llama.cpp; without it llama.cpp falls back to dense attention).
set -euo pipefail
source tests/oracle/oracle_common.sh

three_way_parity() {
  local name=$1 preset=$2 layers=$3 seed=$4 n_tokens=$5 note=$6
  shift 6
  local sets=("$@")
  local dragon="$BUILD/dragon" cmp="$PY tests/parity/dense_compare.py" threads_dragon="${DRAGON_THREADS:-2}"
  ensure_oracle
  if ! synth_available; then echo "FAIL: $dragon synth is not available"; exit 1; fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  local failed=() start t0
  start=$(date +%s.%N)
  check() { "$@" || failed+=("$*"); }
  synth() {  # synth FORMAT DTYPE OUT
    "$dragon" synth "$preset" --format "$1" --dtype "$2" --layers "$layers" --seed "$seed" "${sets[@]}" --out "$3" >/dev/null
  }

  echo "== $preset ($layers layers): $n_tokens positions =="
  synth hf f32 "$work/hf"
  synth gguf f32 "$work/f32.gguf"
  local vocab tokens prompt
  vocab=$(hf_vocab_size "$work/hf")
  tokens=$(prompt_tokens "$n_tokens" 100000)
  prompt=$(prompt_tokens 8 100000)

  "$ORACLE" --model "$work/f32.gguf" --tokens "$tokens" --out "$work/llama.f32" --threads "$THREADS" \
    ${PARITY_ORACLE_FLAGS:-} 2>/dev/null
  t0=$(date +%s.%N)
  "$dragon" logits --model "$work/f32.gguf" --tokens "$tokens" --out "$work/dragon.f32" --kv-type f32 \
    --threads "$threads_dragon" 2>/dev/null
  echo "dragon logits f32: $(echo "$(date +%s.%N) - $t0" | bc) s"
  check $cmp "$work/dragon.f32" "$work/llama.f32" --tokens "$n_tokens" --vocab "$vocab" \
    --label "$preset GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3

  local expected got
  expected=$("$ORACLE" --model "$work/f32.gguf" --tokens "$prompt" --generate 16 --threads "$THREADS" \
    ${PARITY_ORACLE_FLAGS:-} 2>/dev/null | tail -1)
  got=$("$dragon" generate --model "$work/f32.gguf" --tokens "$prompt" -n 16 --kv-type f32 --threads "$threads_dragon" 2>/dev/null)
  if [ "$got" = "$expected" ]; then echo "PASS $preset generate: 16/16 tokens identical to llama.cpp"
  else echo "FAIL $preset generate"; echo "  dragon: $got"; echo "  llama:  $expected"; failed+=("$preset generate"); fi

  "$PY" tests/reference/reference_logits.py --model "$work/hf" --tokens "$tokens" --out "$work/ref.f32" \
    --dtype float64 --threads 1 2>/dev/null
  "$dragon" logits --model "$work/hf" --tokens "$tokens" --out "$work/dragon-hf.f32" --kv-type f32 \
    --threads "$threads_dragon" 2>/dev/null
  check $cmp "$work/dragon-hf.f32" "$work/ref.f32" --tokens "$n_tokens" --vocab "$vocab" \
    --label "$preset HF F32 dragon vs PyTorch${note:+ ($note)}" --max-rel-rmse 1e-4
  echo "$name parity: $(echo "$(date +%s.%N) - $start" | bc) s"

  if ((${#failed[@]})); then
    echo "FAIL $name parity: ${#failed[@]} check(s) failed"; exit 1
  fi
  echo "PASS $name parity"
}
