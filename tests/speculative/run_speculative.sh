#!/usr/bin/env bash
# Speculative decoding end to end, through the dragon binary (the 50-prompt checks, the rollback
# check and the MTP-vs-whole-sequence check are GoogleTest: tests/speculative/speculative_test.cc):
#  1. dragon generate --draft-model on a tiny synthetic Qwen3 GGUF (real tokenizer and vocabulary):
#     the target itself as draft (100 % accepted), a differently seeded draft and the target cut
#     to its first layer (same seed): ids identical to plain greedy on 2 prompts each;
#  2. MTP logits (dragon logits --mtp) against the PyTorch reference (reference_logits.py --mtp,
#     float64) on a DeepSeek-V3 HF directory (MLA + MoE MTP block) and a GLM-4.5-Air GGUF:
#     rel RMSE <= 1e-4, argmax equal;
#  3. dragon generate --speculative mtp on both: ids identical to plain greedy (k = 1 and 3, one
#     prompt each);
#  4. dragon bench --draft-model / --speculative mtp --json: the speed-up and acceptance printed,
#     100 % with the target as its own draft, ids identical;
#  5. errors exit 1 with "dragon: error:": --speculative mtp on a model without MTP, a draft
#     with another vocabulary, --speculative together with --draft-model.
# Random synthetic models accept little: their MTP layer and a differently seeded draft were never
# trained to agree with the target, so their acceptance is ~0 % (reported, not required).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
PY=/usr/bin/python3
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=()
start=$(date +%s)
T=(--threads 1)

QWEN=(--set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 --set num_key_value_heads=2
      --set head_dim=32 --dtype f32)
V3=(--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128
    --set moe_intermediate_size=32 --set n_routed_experts=16 --set n_group=4 --set topk_group=2
    --set num_experts_per_tok=4 --set q_lora_rank=64 --set first_k_dense_replace=1 --dtype f32)
GLM=(--set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=16
     --set n_routed_experts=8 --set num_experts_per_tok=2 --set intermediate_size=128 --set moe_intermediate_size=32
     --set use_qk_norm=true --dtype f32)
"$DRAGON" synth qwen3-0.6b "${QWEN[@]}" --layers 3 --seed 5 --out "$TMP/main.gguf" >/dev/null
"$DRAGON" synth qwen3-0.6b "${QWEN[@]}" --layers 1 --seed 6 --out "$TMP/other.gguf" >/dev/null
"$DRAGON" synth qwen3-0.6b "${QWEN[@]}" --layers 1 --seed 5 --out "$TMP/truncated.gguf" >/dev/null
"$DRAGON" synth deepseek-v3 "${V3[@]}" --format hf --layers 2 --seed 11 --out "$TMP/v3" >/dev/null
"$DRAGON" synth glm-4.5-air "${GLM[@]}" --format gguf --layers 2 --seed 7 --out "$TMP/glm.gguf" >/dev/null
# The same GLM model as an HF directory, for the PyTorch reference.
"$DRAGON" synth glm-4.5-air "${GLM[@]}" --format hf --layers 2 --seed 7 --out "$TMP/glm" >/dev/null

PROMPTS=("1,2,3" "9000,17,123,4567,89" "120000" "42,42,42,42,42,42,42,42" "100,2000,30000,70000,110000,128000")
same() {  # same LABEL GOT EXPECTED
  if [ "$2" = "$3" ]; then return 0; fi
  echo "FAIL $1"; echo "  speculative: $2"; echo "  greedy:      $3"; failed+=("$1"); return 1
}
accepted_line() { grep '^speculative:' "$1" | sed 's/^speculative: //'; }

# 1. draft models
for draft in main other truncated; do
  ok=0
  for p in "${PROMPTS[@]:0:2}"; do
    want=$("$DRAGON" generate --model "$TMP/main.gguf" --tokens "$p" -n 12 "${T[@]}" 2>/dev/null)
    got=$("$DRAGON" generate --model "$TMP/main.gguf" --tokens "$p" -n 12 "${T[@]}" --draft-model "$TMP/$draft.gguf" \
          --draft-n 4 2>"$TMP/err") || { echo "FAIL draft $draft: exit $?"; cat "$TMP/err"; failed+=("draft $draft"); continue; }
    same "draft $draft, prompt $p" "$got" "$want" && ok=$((ok + 1))
    [ "$draft" = main ] && ! grep -q '(100.0 %)' "$TMP/err" && { echo "FAIL draft == target: $(accepted_line "$TMP/err")"; failed+=("100 %"); }
  done
  echo "draft $draft.gguf: $ok/2 prompts identical to greedy; last: $(accepted_line "$TMP/err")"
done

# 2. MTP logits vs PyTorch (both references in one python process: importing torch is the slow part)
TOK="1,200,3000,40000,5,60,700,8000,9,10,11,12,1300,14,15,16"
"$PY" - "$TMP" "$TOK" <<'PYEOF' 2>/dev/null || failed+=("PyTorch MTP reference")
import sys
sys.path.insert(0, "tests/reference")
import torch
import reference_logits as ref
from safetensors_io import HfWeights, load_config
tmp, tokens = sys.argv[1], [int(t) for t in sys.argv[2].split(",")]
torch.set_num_threads(1)
for m in ("v3", "glm"):
    config = load_config(f"{tmp}/{m}")
    with torch.no_grad():
        logits = ref.family_for(config, m).forward_mtp(config, HfWeights(f"{tmp}/{m}", config), tokens, torch.float64)
    logits.to(torch.float32).numpy().astype("<f4").tofile(f"{tmp}/{m}.torch.f32")
PYEOF
for m in v3 glm; do
  file="$TMP/$m"; [ "$m" = glm ] && file="$TMP/glm.gguf"
  "$DRAGON" logits --model "$file" --tokens "$TOK" --mtp --kv-type f32 "${T[@]}" --out "$TMP/$m.dragon.f32" 2>/dev/null
  vocab=$("$DRAGON" info "$TMP/$m" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("config", d)["vocab_size"])')
  "$PY" tests/parity/dense_compare.py "$TMP/$m.dragon.f32" "$TMP/$m.torch.f32" --tokens 15 --vocab "$vocab" \
    --label "MTP logits $m ($(basename "$file")) vs PyTorch" --max-rel-rmse 1e-4 || failed+=("MTP logits $m")
done

# 3. generate --speculative mtp
for m in v3 glm.gguf; do
  for k in 1 3; do
    p=${PROMPTS[$k]}
    want=$("$DRAGON" generate --model "$TMP/$m" --tokens "$p" -n 10 "${T[@]}" 2>/dev/null)
    got=$("$DRAGON" generate --model "$TMP/$m" --tokens "$p" -n 10 "${T[@]}" --speculative mtp --draft-n $k 2>"$TMP/err") ||
      { echo "FAIL mtp $m: exit $?"; cat "$TMP/err"; failed+=("mtp $m"); continue; }
    same "mtp $m k=$k, prompt $p" "$got" "$want" &&
      echo "MTP $m k=$k: identical to greedy; $(accepted_line "$TMP/err")"
  done
done

# 4. bench
bench() {  # bench LABEL ARGS...
  local label=$1; shift
  "$DRAGON" bench "$@" -p 8 -n 24 -r 1 "${T[@]}" --json >"$TMP/bench.json" 2>"$TMP/err" ||
    { echo "FAIL bench $label"; cat "$TMP/err"; failed+=("bench $label"); return 1; }
  "$PY" - "$TMP/bench.json" "$label" <<'PYEOF' || failed+=("bench $2")
import json, sys
b = json.load(open(sys.argv[1]))
label = sys.argv[2]
print(f"bench {label}: plain {b['plain_tokens_per_s']:.1f} tokens/s, speculative {b['speculative_tokens_per_s']:.1f} tokens/s, "
      f"speed-up {b['speedup']:.2f}x, acceptance {100 * b['acceptance']:.1f} % ({b['accepted']}/{b['drafted']}), "
      f"{b['tokens_per_pass']:.2f} tokens per pass")
ok = b["identical"] and b["plain_tokens_per_s"] > 0 and b["speculative_tokens_per_s"] > 0 and b["drafted"] > 0
if label == "draft == target":
    ok = ok and b["accepted"] == b["drafted"]
sys.exit(0 if ok else 1)
PYEOF
}
bench "draft == target" --model "$TMP/main.gguf" --draft-model "$TMP/main.gguf" --draft-n 4
bench "truncated draft" --model "$TMP/main.gguf" --draft-model "$TMP/truncated.gguf" --draft-n 3
bench "MTP (deepseek-v3)" --model "$TMP/v3" --speculative mtp --draft-n 1

# 5. errors
expect_error() {  # expect_error LABEL ARGS...
  local label=$1; shift
  set +e; "$DRAGON" "$@" >/dev/null 2>"$TMP/err"; local rc=$?; set -e
  if [ $rc -eq 1 ] && grep -q '^dragon: error:' "$TMP/err"; then echo "error $label: $(head -1 "$TMP/err")"
  else echo "FAIL error $label: exit $rc"; cat "$TMP/err"; failed+=("error $label"); fi
}
expect_error "no MTP layer" generate --model "$TMP/main.gguf" --tokens 1,2 -n 4 --speculative mtp
expect_error "other vocabulary" generate --model "$TMP/main.gguf" --tokens 1,2 -n 4 --draft-model "$TMP/glm.gguf"
set +e; "$DRAGON" generate --model "$TMP/main.gguf" --tokens 1,2 -n 4 --speculative mtp --draft-model "$TMP/main.gguf" >/dev/null 2>&1
rc=$?; set -e
[ $rc -ne 0 ] && echo "error both drafters: exit $rc" || { echo "FAIL: --speculative with --draft-model accepted"; failed+=("both"); }

echo "run_speculative: $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "PASS run_speculative"
