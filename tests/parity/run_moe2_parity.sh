#!/usr/bin/env bash
# Forward-pass parity of GLM-4.5 (glm4moe), MiniMax-M2 (minimax-m2) and Hunyuan-A13B (hunyuan-moe)
# on synthetic models of the releases' configs (real vocabulary, head_dim, rope, norms and routing;
# narrow widths, 16 experts, top-4) against the two oracles:
#   GGUF F32   vs llama_oracle (F32 KV):  rel RMSE <= 1e-3, argmax equal at every position, and
#                                         16 tokens of greedy generation through the KV cache identical
#   GGUF Q4_K (GLM) / Q8_0 (MiniMax, Hunyuan) vs llama_oracle: dragon's mean KL to the F32 truth
#                                         <= 1.1x llama.cpp's (a flipped expert choice is a quantized
#                                         MoE's fair error, so the bound is on the distribution)
#   HF F32     vs the PyTorch reference (float64): rel RMSE <= 1e-4, argmax equal
# GLM-4.5-Air runs 3 layers (first_k_dense_replace 1: one dense + two MoE layers, and its MTP
# layer, which is kept and not run); GLM-4.5/4.6 adds use_qk_norm and routed_scaling_factor 2.5;
# MiniMax-M2 and Hunyuan, whose every layer is MoE, run 2. Prints every measured figure. Runs from
# the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS="${MOE2_PARITY_TOKENS:-32}"
N_GENERATE=16
THREADS_DRAGON="${DRAGON_THREADS:-2}"
TIE_GAP=1e-2  # oracle top-2 gaps below this are decided by quantization rounding, not by the math

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
elapsed() { echo "$(date +%s.%N) - $1" | bc; }

# The vocabulary (150-200k rows of embedding and output) dominates the cost, so only GLM-4.5-Air
# runs at hidden 256 (Q4_K-sized rows) and checks Q4_K; the others run at hidden 128 and check Q8_0.
wide="--set hidden_size=256 --set num_attention_heads=4 --set num_key_value_heads=2"
narrow="--set hidden_size=128 --set num_attention_heads=2 --set num_key_value_heads=1"
glm="--set n_routed_experts=16 --set num_experts_per_tok=4"
# NAME|PRESET|LAYERS|--set ...|GGUF DTYPES|generate (1/0)
cases=(
  "glm-4.5-air|glm-4.5-air|3|$wide $glm --set intermediate_size=512 --set moe_intermediate_size=256|f32 q4_k|1"
  "glm-4.5-qk-norm|glm-4.5-air|3|$narrow $glm --set intermediate_size=256 --set moe_intermediate_size=128 --set use_qk_norm=true --set routed_scaling_factor=2.5|f32|0"
  "minimax-m2|minimax-m2|2|$narrow --set intermediate_size=128 --set num_local_experts=16 --set num_experts_per_tok=4|f32 q8_0|1"
  "hunyuan-a13b|hunyuan-a13b|2|$narrow --set intermediate_size=128 --set moe_intermediate_size=[128,128] --set num_experts=16 --set moe_topk=[4,4]|f32 q8_0|1"
)

for entry in "${cases[@]}"; do
  IFS='|' read -r name preset layers sets dtype_list generate <<<"$entry"
  start=$(date +%s.%N)
  echo "== $name ($preset, $layers layers, $N_TOKENS positions) =="
  synth() {  # synth FORMAT DTYPE OUT
    # shellcheck disable=SC2086
    "$DRAGON" synth "$preset" --format "$1" --dtype "$2" --layers "$layers" --seed 11 $sets --out "$3" >/dev/null
  }
  synth hf f32 "$work/hf"
  vocab=$(hf_vocab_size "$work/hf")
  tokens=$(prompt_tokens "$N_TOKENS" "$((vocab < 151643 ? vocab : 151643))")
  prompt=$(prompt_tokens 12 "$((vocab < 151643 ? vocab : 151643))")

  "$PY" tests/reference/reference_logits.py --model "$work/hf" --tokens "$tokens" --out "$work/ref.f32" \
    --dtype float64 --threads 1 >/dev/null
  "$DRAGON" logits --model "$work/hf" --tokens "$tokens" --out "$work/dragon-hf.f32" --kv-type f32 \
    --threads "$THREADS_DRAGON" 2>/dev/null
  check $CMP "$work/dragon-hf.f32" "$work/ref.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$name HF F32 dragon vs PyTorch" --max-rel-rmse 1e-4
  rm -rf "$work/hf"

  read -r -a dtypes <<<"$dtype_list"
  for dtype in "${dtypes[@]}"; do
    synth gguf "$dtype" "$work/$dtype.gguf"
    "$ORACLE" --model "$work/$dtype.gguf" --tokens "$tokens" --out "$work/llama-$dtype.f32" --threads "$THREADS" 2>/dev/null
    "$DRAGON" logits --model "$work/$dtype.gguf" --tokens "$tokens" --out "$work/dragon-$dtype.f32" --kv-type f32 \
      --threads "$THREADS_DRAGON" 2>/dev/null
  done
  check $CMP "$work/dragon-f32.f32" "$work/llama-f32.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$name GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3
  for dtype in "${dtypes[@]:1}"; do
    check $CMP "$work/dragon-$dtype.f32" "$work/llama-$dtype.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
      --label "$name GGUF ${dtype^^} dragon vs llama.cpp" --min-argmax 0.9 --tie-gap $TIE_GAP \
      --truth "$work/dragon-f32.f32" --other "$work/llama-$dtype.f32" --max-kl-ratio 1.1
  done

  if [ "$generate" = 1 ]; then
    expected=$("$ORACLE" --model "$work/f32.gguf" --tokens "$prompt" --generate $N_GENERATE --threads "$THREADS" 2>/dev/null | tail -1)
    got=$("$DRAGON" generate --model "$work/f32.gguf" --tokens "$prompt" -n $N_GENERATE --kv-type f32 \
      --threads "$THREADS_DRAGON" 2>/dev/null)
    if [ "$got" = "$expected" ]; then echo "PASS $name generate: $N_GENERATE/$N_GENERATE tokens identical to llama.cpp ($got)"
    else echo "FAIL $name generate"; echo "  dragon: $got"; echo "  llama:  $expected"; failed+=("$name generate"); fi
  fi
  rm -f "$work"/*.gguf "$work"/*.f32
  echo "$name: $(elapsed "$start") s"
done

if ((${#failed[@]})); then
  echo "FAIL moe2 parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS moe2 parity"
