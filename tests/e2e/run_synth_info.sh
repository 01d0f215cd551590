#!/usr/bin/env bash
# dragon synth + dragon info, end to end:
#  1. every preset of tests/synth/presets_small.txt is synthesized as GGUF (q8_0) and HF (bf16);
#     `dragon info --json` must report the same architecture and shape for both, and llama.cpp
#     (tests/oracle's llama_oracle, when built) must load the GGUF and produce finite logits;
#  2. the same seed gives the same bytes;
#  3. `dragon info` reads GGUFs written by llama.cpp's gguf-py: a qwen3 model
#     (tests/oracle/make_tiny_qwen3.py) and a file of an architecture dragon does not support;
#  4. errors exit 1 with "dragon: error: <file>: ...".
# Prints the figures it measured; exits non-zero on the first failed check.
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
PY=/usr/bin/python3
GGUF_PY=build/llama.cpp/gguf-py
PRESETS=tests/synth/presets_small.txt
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
# The tokenizers live in build/share (setup.sh); another build dir finds them through the env.
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; echo "  (free space where the files are written: $(df -h --output=avail "$TMP" | tail -1))"; exit 1; }

# field FILE EXPR: a value from a `dragon info --json` output.
field() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

oracle_check() {  # oracle_check GGUF VOCAB: llama.cpp must load it and give finite, non-flat logits
  local gguf=$1 vocab=$2
  if [ ! -x "$BUILD/llama_oracle" ]; then echo "    llama.cpp load: skipped ($BUILD/llama_oracle not built)"; return; fi
  local tokens
  tokens=$(seq 0 15 | awk '{printf "%s%d", (NR>1?",":""), ($1*7919+101)%v}' v="$vocab")
  "$BUILD/llama_oracle" --model "$gguf" --tokens "$tokens" --out "$TMP/logits.f32" --threads 1 --poll 0 \
    >"$TMP/oracle.log" 2>&1 || { cat "$TMP/oracle.log"; fail "llama.cpp cannot run $gguf"; }
  "$PY" - "$TMP/logits.f32" <<'EOF' || fail "llama.cpp logits of $gguf are not sane"
import sys, numpy as np
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(16, -1)
distinct = len(set(x.argmax(axis=1)))
# Well-scaled synthetic weights: logits neither flat nor exploding, next-token choice varies.
ok = np.isfinite(x).all() and 0.3 < x.std() < 50 and distinct >= 4
print(f"    llama.cpp logits: std {x.std():.3f}, max {x.max():.3f}, argmax distinct over 16 positions {distinct}")
sys.exit(0 if ok else 1)
EOF
}

echo "== presets ($PRESETS) =="
n=0
while read -r preset flags; do
  [[ -z "$preset" || "$preset" == \#* ]] && continue
  n=$((n + 1))
  # shellcheck disable=SC2086
  start=$(date +%s)
  "$DRAGON" synth "$preset" --format gguf --dtype q8_0 --seed 1 $flags --out "$TMP/$preset.gguf" >/dev/null \
    || fail "synth $preset gguf"
  # shellcheck disable=SC2086
  "$DRAGON" synth "$preset" --format hf --dtype bf16 --seed 1 $flags --out "$TMP/$preset-hf" >/dev/null \
    || fail "synth $preset hf"
  secs=$(( $(date +%s) - start ))
  "$DRAGON" info --json "$TMP/$preset.gguf" >"$TMP/g.json" || fail "info $preset.gguf"
  "$DRAGON" info --json "$TMP/$preset-hf" >"$TMP/h.json" || fail "info $preset-hf"
  for key in arch n_layers hidden_size vocab_size n_heads n_kv_heads head_dim; do
    g=$(field "$TMP/g.json" "j['config']['$key']"); h=$(field "$TMP/h.json" "j['config']['$key']")
    [ "$g" == "$h" ] || fail "$preset: config $key is $g in GGUF but $h in HF"
  done
  echo "  $preset: $(field "$TMP/g.json" "j['architecture']") / $(field "$TMP/h.json" "j['hf_architecture']")," \
       "params gguf $(field "$TMP/g.json" "j['parameters']") hf $(field "$TMP/h.json" "j['parameters']")," \
       "dtypes gguf $(field "$TMP/g.json" "sorted(j['dtypes'])") hf $(field "$TMP/h.json" "sorted(j['dtypes'])")," \
       "synth ${secs}s"
  oracle_check "$TMP/$preset.gguf" "$(field "$TMP/g.json" "j['config']['vocab_size']")"
  # Only the first preset's file is needed again (determinism below): 24 presets kept would hold
  # ~900 MB of the CI machine's disk at once.
  rm -rf "$TMP/$preset-hf"
  [ "$n" -eq 1 ] || rm -f "$TMP/$preset.gguf"
done <"$PRESETS"
[ "$n" -gt 0 ] || fail "no presets in $PRESETS"

echo "== determinism =="
first=$(grep -v '^#' "$PRESETS" | grep -v '^\s*$' | head -1)
read -r preset flags <<<"$first"
# shellcheck disable=SC2086
"$DRAGON" synth "$preset" --format gguf --dtype q8_0 --seed 1 $flags --out "$TMP/again.gguf" >/dev/null
cmp -s "$TMP/$preset.gguf" "$TMP/again.gguf" || fail "same seed, different bytes"
# shellcheck disable=SC2086
"$DRAGON" synth "$preset" --format gguf --dtype q8_0 --seed 2 $flags --out "$TMP/other.gguf" >/dev/null
cmp -s "$TMP/$preset.gguf" "$TMP/other.gguf" && fail "different seeds, same bytes"
echo "  $preset: seed 1 twice -> identical $(stat -c %s "$TMP/again.gguf") bytes; seed 2 -> different"

echo "== GGUF files written by gguf-py =="
"$PY" tests/oracle/make_tiny_qwen3.py --out "$TMP/tiny" >/dev/null || fail "make_tiny_qwen3.py"
"$DRAGON" info --json "$TMP/tiny/model.gguf" >"$TMP/t.json" || fail "dragon info on gguf-py's qwen3"
[ "$(field "$TMP/t.json" "j['architecture']")" == qwen3 ] || fail "gguf-py qwen3 not recognized"
[ "$(field "$TMP/t.json" "j['supported']")" == True ] || fail "gguf-py qwen3 not supported"
echo "  gguf-py qwen3: $(field "$TMP/t.json" "j['tensor_count']") tensors, $(field "$TMP/t.json" "j['parameters']") params, layers $(field "$TMP/t.json" "j['config']['n_layers']")"
"$PY" tests/e2e/write_unknown_arch_gguf.py "$GGUF_PY" "$TMP/bert.gguf" || fail "write_unknown_arch_gguf.py"
"$DRAGON" info "$TMP/bert.gguf" >"$TMP/bert.txt" || fail "dragon info on an unsupported architecture must still succeed"
grep -q "unsupported" "$TMP/bert.txt" || { cat "$TMP/bert.txt"; fail "no 'unsupported' in info output"; }
grep -q "tensors: *3" "$TMP/bert.txt" || { cat "$TMP/bert.txt"; fail "wrong tensor count for bert.gguf"; }
echo "  gguf-py bert: $(grep architecture "$TMP/bert.txt" | tr -s ' ')"

echo "== errors =="
expect_error() {  # expect_error PATTERN CMD...: exit 1 and the pattern on stderr
  local pattern=$1; shift
  if "$@" >/dev/null 2>"$TMP/err"; then fail "'$*' succeeded"; fi
  grep -q -- "$pattern" "$TMP/err" || { cat "$TMP/err"; fail "'$*': no '$pattern' in the error"; }
  echo "  $(head -1 "$TMP/err")"
}
printf 'GGUF\x03\x00\x00\x00garbage' >"$TMP/bad.gguf"
expect_error "dragon: error: $TMP/bad.gguf" "$DRAGON" info "$TMP/bad.gguf"
expect_error "dragon: error: .*no-such-model" "$DRAGON" info "$TMP/no-such-model"
expect_error "unknown preset" "$DRAGON" synth qwen9-1t --out "$TMP/x.gguf"
expect_error "no key hidden_sise" "$DRAGON" synth qwen3-0.6b --set hidden_sise=4 --out "$TMP/x.gguf"
expect_error "only for --format gguf" "$DRAGON" synth qwen3-0.6b --format hf --dtype q4_k --out "$TMP/x"
echo "PASS: $n presets in both formats, determinism, gguf-py files, errors"
