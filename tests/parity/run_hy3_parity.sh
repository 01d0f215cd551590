#!/usr/bin/env bash
# Tencent Hy3 (hy_v3: QK-norm GQA, one leading dense layer, then sigmoid-routed MoE with an
# expert-selection bias, route_norm, router_scaling_factor 2.826 and an ungated shared expert; an MTP
# block the forward pass does not run) parity: dragon on a small synthetic hy3-preview — 4 layers +
# the MTP layer, the real head_dim 128, vocabulary and GQA, 16 experts top-4 — against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (16 tokens, F32):  identical to llama_oracle --generate
#   HF F32 vs PyTorch reference (float64, written from transformers' modeling_hy_v3.py): rel RMSE <= 1e-4
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS="${HY3_PARITY_TOKENS:-40}"
THREADS_DRAGON="${DRAGON_THREADS:-2}"

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
start=$(date +%s.%N)

preset=hy3-preview
layers=4
sets=(--set hidden_size=64 --set num_attention_heads=8 --set num_key_value_heads=1 --set intermediate_size=96
      --set num_experts=16 --set num_experts_per_tok=4 --set moe_intermediate_size=32 --set expert_hidden_dim=32)
synth() {  # synth FORMAT DTYPE OUT
  "$DRAGON" synth "$preset" --format "$1" --dtype "$2" --layers "$layers" --seed 31 "${sets[@]}" --out "$3" >/dev/null
}

echo "== $preset ($layers layers + MTP): $N_TOKENS positions =="
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
  --label "$preset HF F32 dragon vs PyTorch" --max-rel-rmse 1e-4
echo "Hy3 parity: $(echo "$(date +%s.%N) - $start" | bc) s"

if ((${#failed[@]})); then
  echo "FAIL Hy3 parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS Hy3 parity"
