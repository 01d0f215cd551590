#!/usr/bin/env bash
# MLA parity (DeepSeek-V2-Lite and DeepSeek-V3 shapes: real kv_lora_rank 512, qk_nope 128,
# qk_rope 64, v_head_dim 128, YaRN; V3 with q_lora_rank; narrow hidden / expert widths; 3 layers =
# 1 dense + 2 MoE) against both oracles:
#   GGUF F32  vs llama_oracle (F32 KV):  rel RMSE <= 1e-3, argmax equal at every position
#   GGUF Q8_0 / Q4_K vs llama_oracle:    dragon's median per-position KL to the F32 truth (llama.cpp
#                                        on the F32 file) <= 1.1x llama.cpp's on the same quantized
#                                        file (the mean printed beside it, see below); 2-token
#                                        prompt logits rel RMSE <= 1e-5
#                                        (the argmax bound with the absorbed prefill llama.cpp
#                                        computes; the default decompressed prefill: KL bound only)
#   greedy generation (prompt, then one token per step through the latent cache = the absorbed
#   decode path) identical to llama_oracle --generate, with F32 and F16 KV
#   HF F32 vs PyTorch reference (float64): rel RMSE <= 1e-4, argmax equal
#   HF FP8 (DeepSeek-V3 F8_E4M3 + 128x128 weight_scale_inv, V3 only) vs PyTorch: rel RMSE <= 1e-4
#   Kimi K2 shape (kimi-k2 preset, 24 experts here): HF F32 vs PyTorch; GGUF F32 vs llama.cpp
#   given the file's YaRN betas (rel RMSE <= 1e-3, argmax equal; llama.cpp on its own reported
#   only, see below)
#   dragon info: KV bytes per token = layers x (kv_lora_rank + qk_rope_head_dim) x 2 (F16)
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS=128     # GGUF logits: a quantized file flips a few tokens' expert choices, and the KL ratio
                 # needs enough positions for those flips to average out (48 gave 1.0-1.7)
N_HF_TOKENS=48
N_GENERATE=24
THREADS_DRAGON="${DRAGON_THREADS:-2}"
TIE_GAP=1e-2

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
report() { "$@" || echo "  (reported, not required)"; }
start=$(date +%s.%N)

# The small widths of tests/synth/presets_small.txt at 3 layers; DENSE leading dense layers.
DENSE=1
preset_args() {
  case "$1" in
    deepseek-v2-lite) echo "--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128 --set moe_intermediate_size=32 --set n_routed_experts=8 --set num_experts_per_tok=2 --set first_k_dense_replace=$DENSE" ;;
    kimi-k2) echo "--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128 --set moe_intermediate_size=32 --set n_routed_experts=24 --set num_experts_per_tok=4 --set q_lora_rank=64 --set first_k_dense_replace=$DENSE" ;;
    deepseek-v3) echo "--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128 --set moe_intermediate_size=32 --set n_routed_experts=16 --set n_group=4 --set topk_group=2 --set num_experts_per_tok=4 --set q_lora_rank=64 --set first_k_dense_replace=$DENSE" ;;
  esac
}
synth() {  # synth PRESET FORMAT DTYPE OUT
  # shellcheck disable=SC2046
  "$DRAGON" synth "$1" --format "$2" --dtype "$3" --layers 3 --seed 11 $(preset_args "$1") --out "$4" >/dev/null
}
same_tokens() {  # same_tokens LABEL GOT EXPECTED
  if [ "$2" = "$3" ]; then echo "PASS $1: $(echo "$2" | tr ',' '\n' | wc -l) tokens identical to llama.cpp"
  else echo "FAIL $1"; echo "  dragon: $2"; echo "  llama:  $3"; failed+=("$1"); fi
}

for preset in deepseek-v2-lite deepseek-v3; do
  echo "== $preset: GGUF vs llama.cpp, $N_TOKENS positions =="
  for dtype in f32 q8_0 q4_k; do synth $preset gguf $dtype "$work/$dtype.gguf"; done
  vocab=$("$DRAGON" info "$work/f32.gguf" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("config", d)["vocab_size"])')
  tokens=$(prompt_tokens $N_TOKENS "$vocab")
  for dtype in f32 q8_0 q4_k; do
    "$ORACLE" --model "$work/$dtype.gguf" --tokens "$tokens" --out "$work/llama-$dtype.f32" --threads "$THREADS" 2>/dev/null
    t0=$(date +%s.%N)
    "$DRAGON" logits --model "$work/$dtype.gguf" --tokens "$tokens" --out "$work/dragon-$dtype.f32" --kv-type f32 \
      --threads "$THREADS_DRAGON" 2>/dev/null
    echo "dragon logits $dtype: $(echo "$(date +%s.%N) - $t0" | bc) s"
    # A quantized file is also run in the absorbed form llama.cpp computes, so its rounding is
    # compared like for like (a 128-token prompt is decompressed by default: models/mla_decompressed.h).
    [ $dtype = f32 ] || DRAGON_MLA_PREFILL=absorbed "$DRAGON" logits --model "$work/$dtype.gguf" --tokens "$tokens" \
      --out "$work/dragon-absorbed-$dtype.f32" --kv-type f32 --threads "$THREADS_DRAGON" 2>/dev/null
  done
  check $CMP "$work/dragon-f32.f32" "$work/llama-f32.f32" --tokens $N_TOKENS --vocab "$vocab" \
    --label "$preset GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3
  for dtype in q8_0 q4_k; do
    # The KL bound is on the median over positions, as in run_moe_parity.sh: these models are MoE
    # (2 of the 3 layers), and a router near-tie that Q8_0 rounding tips one way swaps an expert
    # at that position (KL ~0.027 there against ~0.001 elsewhere), whichever engine's rounding
    # does it. Measured on DeepSeek-V2-Lite Q8_0, seed 11: dragon's layer-2 routing differs from
    # its F32 routing at positions 36, 73, 89, 113 (F32 router-logit gaps 0.029, 0.003, 0.016,
    # 0.022); llama.cpp's KL at 73 is dragon's (0.013, the same flip) but it has none at 89 / 113
    # (0.001 where dragon has 0.027), which alone lift dragon's mean KL to 1.34x llama.cpp's
    # (1.787e-3 / 1.331e-3; without the 3 largest per-position differences 1.01) while the medians are equal
    # (1.054e-3 / 1.065e-3, ratio 0.99). Not a precision loss of dragon's: keeping activations in
    # f32 (weights dequantized, no Q8 rounding) for q, kv_a, attn_k_b, attn_v_b or attn_output
    # one at a time leaves the median ratio at 0.95-0.99 and moves the flips around (mean ratio
    # 1.13 to 1.58; all five at once: median 0.88, mean 1.16), and seeds 12-14 give mean ratios
    # 0.99 / 1.01 / 1.00. llama.cpp's quantized 128-token prompt equals dragon's arithmetic (and
    # its own 2-token one) on rows 0-15 (rel 6e-8) and departs by ~1e-2 from row 16 on (F32 files
    # agree at every row to 5e-7), so the two engines' rounding tips different near-ties.
    check $CMP "$work/dragon-absorbed-$dtype.f32" "$work/llama-$dtype.f32" --tokens $N_TOKENS \
      --vocab "$vocab" --label "$preset GGUF ${dtype^^} dragon (absorbed prefill) vs llama.cpp" --min-argmax 0.9 \
      --tie-gap $TIE_GAP --truth "$work/llama-f32.f32" --other "$work/llama-$dtype.f32" --max-kl-ratio 1.1 \
      --kl-statistic median
    # The decompressed prefill rounds differently from llama.cpp (W_UK applied to the f32 latent
    # rows instead of the Q8-rounded queries), so its argmax agreement with llama.cpp is reported
    # (V3 Q8_0: 113/128 where absorbed gives 126) and its accuracy is held to the same KL bound.
    check $CMP "$work/dragon-$dtype.f32" "$work/llama-$dtype.f32" --tokens $N_TOKENS --vocab "$vocab" \
      --label "$preset GGUF ${dtype^^} dragon (decompressed prefill) KL vs llama.cpp" --min-argmax 0 \
      --tie-gap $TIE_GAP --truth "$work/llama-f32.f32" --other "$work/llama-$dtype.f32" --max-kl-ratio 1.1 \
      --kl-statistic median
    # A 2-token prompt stays on the rows where llama.cpp's quantized arithmetic is its decode's.
    short=$(prompt_tokens 2 "$vocab")
    "$ORACLE" --model "$work/$dtype.gguf" --tokens "$short" --out "$work/llama-2-$dtype.f32" --threads "$THREADS" 2>/dev/null
    "$DRAGON" logits --model "$work/$dtype.gguf" --tokens "$short" --out "$work/dragon-2-$dtype.f32" --kv-type f32 2>/dev/null
    check $CMP "$work/dragon-2-$dtype.f32" "$work/llama-2-$dtype.f32" --tokens 2 --vocab "$vocab" \
      --label "$preset GGUF ${dtype^^} 2-token prompt dragon vs llama.cpp" --max-rel-rmse 1e-5
  done

  echo "== $preset: greedy generation through the latent cache =="
  prompt=$(prompt_tokens 8 "$vocab")
  expected=$("$ORACLE" --model "$work/f32.gguf" --tokens "$prompt" --generate $N_GENERATE --threads "$THREADS" 2>/dev/null | tail -1)
  for kv in f32 f16; do
    got=$("$DRAGON" generate --model "$work/f32.gguf" --tokens "$prompt" -n $N_GENERATE --kv-type $kv \
      --threads "$THREADS_DRAGON" 2>/dev/null)
    same_tokens "$preset generate (KV $kv)" "$got" "$expected"
  done

  echo "== $preset: KV cache bytes per token =="
  "$DRAGON" info "$work/f32.gguf" | grep -i "kv" || true
  want=$((3 * (512 + 64) * 2))
  got_bytes=$("$DRAGON" info "$work/f32.gguf" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("kv_bytes_per_token", -1))')
  if [ "$got_bytes" = "$want" ]; then echo "PASS $preset KV bytes/token: $got_bytes (latent 512 + rope 64, 3 layers, F16)"
  else echo "FAIL $preset KV bytes/token: $got_bytes, expected $want"; failed+=("$preset kv bytes"); fi
  rm -f "$work"/*.gguf

  echo "== $preset: HF vs the PyTorch reference =="
  hf_dtypes="f32"
  [ "$preset" = deepseek-v3 ] && hf_dtypes="f32 fp8"
  hf_tokens=$(prompt_tokens $N_HF_TOKENS "$vocab")
  for dtype in $hf_dtypes; do
    synth $preset hf $dtype "$work/hf-$dtype"
    "$PY" tests/reference/reference_logits.py --model "$work/hf-$dtype" --tokens "$hf_tokens" --out "$work/ref-$dtype.f32" \
      --dtype float64 --threads 1 >/dev/null
    "$DRAGON" logits --model "$work/hf-$dtype" --tokens "$hf_tokens" --out "$work/dragon-hf-$dtype.f32" --kv-type f32 \
      --threads "$THREADS_DRAGON" 2>/dev/null
    check $CMP "$work/dragon-hf-$dtype.f32" "$work/ref-$dtype.f32" --tokens $N_HF_TOKENS --vocab "$vocab" \
      --label "$preset HF ${dtype^^} dragon vs PyTorch" --max-rel-rmse 1e-4
    rm -rf "$work/hf-$dtype"
  done
done
# Kimi K2 is DeepSeek-V3's architecture with its own shape (64 heads, 384 experts without group
# limit, rope_theta 50000, YaRN factor 32 with beta_fast 1): one F32 line per oracle.
echo "== kimi-k2: F32 GGUF vs llama.cpp, HF vs PyTorch =="
synth kimi-k2 gguf f32 "$work/kimi.gguf"
synth kimi-k2 hf f32 "$work/hf-kimi"
ktokens=$(prompt_tokens 32 163840)
"$ORACLE" --model "$work/kimi.gguf" --tokens "$ktokens" --out "$work/llama-kimi.f32" --threads "$THREADS" 2>/dev/null
"$DRAGON" logits --model "$work/kimi.gguf" --tokens "$ktokens" --out "$work/dragon-kimi.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
# llama.cpp is wrong here, on real Kimi-K2 GGUFs too: its deepseek2 loader never reads
# rope.scaling.yarn_beta_fast / yarn_beta_slow (in this release only grok and mistral3 do), so
# YaRN's correction range uses the defaults 32 / 1. Kimi K2's config.json says 1 / 1, HF's
# DeepseekV3YarnRotaryEmbedding uses them (_init_rope passes rope_scaling's beta_fast/beta_slow),
# and convert_hf_to_gguf.py writes them into the file as dragon does. With 64 rope dims, base 50000
# and 4096 original positions the ramp then starts at pair 8 instead of 19: pairs 9-19 of 32 get
# blended frequencies where HF keeps the original ones (rel RMSE 0.12 with the MoE layers, 6.7e-3
# all dense). Reported, not required. Given the file's betas through its context parameters,
# llama.cpp matches dragon: that is the check.
report $CMP "$work/dragon-kimi.f32" "$work/llama-kimi.f32" --tokens 32 --vocab 163840 \
  --label "kimi-k2 GGUF F32 dragon vs llama.cpp (its default YaRN betas 32/1)" --max-rel-rmse 1e-3
read -r beta_fast beta_slow < <("$DRAGON" info "$work/kimi.gguf" --json | "$PY" -c '
import json, sys
rs = json.load(sys.stdin)["config"]["rope_scaling"]
print(rs["beta_fast"], rs["beta_slow"])')
"$ORACLE" --model "$work/kimi.gguf" --tokens "$ktokens" --out "$work/llama-kimi-betas.f32" --threads "$THREADS" \
  --yarn-beta-fast "$beta_fast" --yarn-beta-slow "$beta_slow" 2>/dev/null
check $CMP "$work/dragon-kimi.f32" "$work/llama-kimi-betas.f32" --tokens 32 --vocab 163840 \
  --label "kimi-k2 GGUF F32 dragon vs llama.cpp given the file's YaRN betas $beta_fast/$beta_slow" --max-rel-rmse 1e-3
"$PY" tests/reference/reference_logits.py --model "$work/hf-kimi" --tokens "$ktokens" --out "$work/ref-kimi.f32" \
  --dtype float64 --threads 1 >/dev/null
"$DRAGON" logits --model "$work/hf-kimi" --tokens "$ktokens" --out "$work/dragon-hf-kimi.f32" --kv-type f32 \
  --threads "$THREADS_DRAGON" 2>/dev/null
check $CMP "$work/dragon-hf-kimi.f32" "$work/ref-kimi.f32" --tokens 32 --vocab 163840 \
  --label "kimi-k2 HF F32 dragon vs PyTorch" --max-rel-rmse 1e-4

echo "MLA parity: $(echo "$(date +%s.%N) - $start" | bc) s"

if ((${#failed[@]})); then
  echo "FAIL mla parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS mla parity"
