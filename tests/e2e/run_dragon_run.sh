#!/usr/bin/env bash
# `dragon run` end to end on a small synthetic Qwen3 GGUF (2 layers, narrow, real vocabulary and
# chat template):
#  1. `dragon run -n 16 --seed 1 "你好"` at temperature 0.8 exits 0 and prints non-empty valid UTF-8;
#  2. the same seed prints the same text, another seed other tokens;
#  3. greedy `dragon run --temp 0` feeds the tokens `dragon template` + `dragon tokenize
#     --no-add-special` give, and generates the tokens `dragon generate` gives for them (up to
#     the EOS where run stops);
#  4. a prompt over --ctx exits 1 with an error naming the context;
#  5. --stop with a piece of the seed-1 answer prints the answer up to that piece;
#  6. an architecture dragon cannot run (bert) exits 1 naming it;
#  7. on an HF directory the sampling defaults come from generation_config.json.
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

MODEL="$TMP/qwen3.gguf"
"$DRAGON" synth qwen3-0.6b --layers 2 --set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 \
  --set num_key_value_heads=2 --set head_dim=32 --dtype f32 --seed 5 --out "$MODEL" >/dev/null

# 1. sampled run: exit 0, non-empty valid UTF-8.
"$DRAGON" run --model "$MODEL" -n 16 --seed 1 --temp 0.8 --show-tokens "你好" >"$TMP/a.txt" 2>"$TMP/a.err" ||
  { cat "$TMP/a.err"; fail "dragon run exited $?"; }
grep '^run:' "$TMP/a.err" | sed 's/^/  /'
"$PY" - "$TMP/a.txt" <<'PYEOF' || fail "dragon run printed empty or invalid UTF-8"
import sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")  # raises on invalid UTF-8
assert text.strip(), "empty output"
print(f"  sampled output: {len(data)} bytes of valid UTF-8: {text.strip()[:60]!r}")
PYEOF

# 2. reproducible with the same seed; another seed draws other tokens.
"$DRAGON" run --model "$MODEL" -n 16 --seed 1 --temp 0.8 --show-tokens "你好" >"$TMP/b.txt" 2>"$TMP/b.err"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || fail "same seed, different text"
"$DRAGON" run --model "$MODEL" -n 16 --seed 2 --temp 0.8 --show-tokens "你好" >"$TMP/c.txt" 2>"$TMP/c.err"
gen_a=$(sed -n 's/^generated tokens: //p' "$TMP/a.err")
gen_c=$(sed -n 's/^generated tokens: //p' "$TMP/c.err")
[ "$gen_a" != "$gen_c" ] || fail "seeds 1 and 2 drew the same 16 tokens"
echo "  seed 1 twice: identical text; seed 2: other tokens ($gen_c)"

# 3. greedy run == generate on the tokens template + tokenize give.
echo '[{"role": "user", "content": "你好"}]' >"$TMP/messages.json"
"$DRAGON" template --model "$MODEL" --messages "$TMP/messages.json" >"$TMP/prompt.txt"
prompt=$("$DRAGON" tokenize --model "$MODEL" --no-add-special -f "$TMP/prompt.txt" | tr -s ' ' ',')
"$DRAGON" run --model "$MODEL" -n 16 --temp 0 --show-tokens "你好" >"$TMP/g.txt" 2>"$TMP/g.err"
run_prompt=$(sed -n 's/^prompt tokens: //p' "$TMP/g.err")
run_gen=$(sed -n 's/^generated tokens: //p' "$TMP/g.err")
[ "$run_prompt" = "$prompt" ] || fail "run fed $run_prompt, template + tokenize give $prompt"
generated=$("$DRAGON" generate --model "$MODEL" --tokens "$prompt" -n 16 2>/dev/null)
"$PY" - "$run_gen" "$generated" <<'PYEOF' || fail "greedy run and generate differ"
import sys
run = [int(t) for t in sys.argv[1].split(",") if t]
gen = [int(t) for t in sys.argv[2].split(",") if t]
assert run and run == gen[:len(run)], f"run {run} vs generate {gen}"
# run may stop early only at an end-of-turn token.
assert len(run) == len(gen) or run[-1] in (151643, 151645), f"run stopped at {run[-1]} after {len(run)} tokens"
print(f"  greedy: {len(run)} generated tokens equal to dragon generate's ({len(gen)} asked)")
PYEOF

# 4. a prompt longer than the context fails cleanly.
set +e
"$DRAGON" run --model "$MODEL" --ctx 4 "你好" >/dev/null 2>"$TMP/ctx.err"
code=$?
set -e
[ "$code" = 1 ] || fail "prompt over --ctx 4 exited $code, want 1"
grep -q "context" "$TMP/ctx.err" || fail "prompt over --ctx: message does not name the context: $(cat "$TMP/ctx.err")"
echo "  prompt over --ctx 4: exit 1, $(head -1 "$TMP/ctx.err")"
# 5. --stop: a stop string spanning tokens of the seed-1 answer ends the output just before it
#    (the same seed draws the same tokens up to there).
"$PY" - "$TMP/a.txt" "$TMP/stop.txt" <<'PYEOF' || fail "no stop string to pick from the seed-1 answer"
import sys
text = open(sys.argv[1], encoding="utf-8").read().rstrip("\n")
chars = list(text)
assert len(chars) >= 8, f"answer too short: {text!r}"
# A 4-character stop string (long enough to span tokens) whose first occurrence is as late as
# possible (a random model repeats itself, so a piece from the middle may occur earlier too).
stop = max(("".join(chars[i:i + 4]) for i in range(1, len(chars) - 3)), key=text.find)
assert text.find(stop) > 0
open(sys.argv[2], "w", encoding="utf-8").write(stop)
PYEOF
stop=$(cat "$TMP/stop.txt")
"$DRAGON" run --model "$MODEL" -n 16 --seed 1 --temp 0.8 --stop "$stop" "你好" >"$TMP/s.txt" 2>/dev/null
"$PY" - "$TMP/a.txt" "$TMP/s.txt" "$stop" <<'PYEOF' || fail "--stop did not cut the answer before the stop string"
import sys
full = open(sys.argv[1], encoding="utf-8").read().rstrip("\n")
cut = open(sys.argv[2], encoding="utf-8").read().rstrip("\n")
stop = sys.argv[3]
want = full[:full.find(stop)]
assert cut == want, f"got {cut!r}, want {want!r}"
print(f"  --stop {stop!r}: output cut to {len(cut.encode())} of {len(full.encode())} bytes")
PYEOF

# 6. an architecture without a forward pass fails cleanly.
"$PY" tests/e2e/write_unknown_arch_gguf.py build/llama.cpp/gguf-py "$TMP/bert.gguf" >/dev/null
set +e
"$DRAGON" run --model "$TMP/bert.gguf" "hi" >/dev/null 2>"$TMP/arch.err"
code=$?
set -e
[ "$code" = 1 ] || fail "unknown architecture exited $code, want 1"
grep -q "bert" "$TMP/arch.err" || fail "unknown architecture: message does not name it: $(cat "$TMP/arch.err")"
echo "  unknown architecture: exit 1, $(head -1 "$TMP/arch.err")"
# 7. an HF directory: the sampling defaults come from its generation_config.json (Qwen3's:
#    temperature 0.6, top_k 20, top_p 0.95), and --temp 0 overrides them.
"$DRAGON" synth qwen3-0.6b --format hf --layers 2 --set hidden_size=64 --set intermediate_size=128 \
  --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32 --dtype bf16 --seed 5 --out "$TMP/hf" >/dev/null
"$DRAGON" run --model "$TMP/hf" -n 4 --seed 1 "你好" >/dev/null 2>"$TMP/hf.err" || { cat "$TMP/hf.err"; fail "run on an HF directory"; }
grep -q "^run: sampling temperature 0.6 top_k 20 top_p 0.95 " "$TMP/hf.err" ||
  fail "generation_config.json not used: $(grep '^run:' "$TMP/hf.err" | head -1)"
"$DRAGON" run --model "$TMP/hf" -n 4 --temp 0 "你好" >/dev/null 2>"$TMP/hf0.err"
grep -q "^run: greedy" "$TMP/hf0.err" || fail "--temp 0 did not override generation_config.json"
echo "  HF directory: $(head -1 "$TMP/hf.err"); with --temp 0: $(head -1 "$TMP/hf0.err")"
# 8. no --model: the demo model that ships in models/ (a tiny poem writer) answers in Chinese,
#    and says it is a demo; without it the error names the ways out.
# A build directory outside the checkout (DRAGON_BUILD) has no models/ beside it: point at ours.
[ -e "$BUILD/../models/dragon-demo-poems.gguf" ] || export DRAGON_DEMO_MODEL="$PWD/models/dragon-demo-poems.gguf"
"$DRAGON" run -n 24 "静夜思" >"$TMP/demo.txt" 2>"$TMP/demo.err" || { cat "$TMP/demo.err"; fail "run without --model"; }
grep -q "DEMO" "$TMP/demo.err" || fail "run without --model does not say it runs the demo model"
"$PY" - "$TMP/demo.txt" <<'PYEOF' || fail "the demo model did not write Chinese"
import sys
text = open(sys.argv[1], encoding="utf-8").read()
han = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
assert han >= 8, f"{han} Han characters in {text!r}"
print(f"  demo model: {han} Han characters: {' '.join(text.split())[:60]}")
PYEOF
set +e
DRAGON_DEMO_MODEL="$TMP/missing.gguf" "$DRAGON" run "hi" >/dev/null 2>"$TMP/nodemo.err"
code=$?
set -e
[ "$code" = 1 ] && grep -q -- "--model" "$TMP/nodemo.err" || fail "missing demo model: exit $code, $(cat "$TMP/nodemo.err")"
echo "  missing demo model: $(tail -1 "$TMP/nodemo.err")"
echo "PASS run_dragon_run"
