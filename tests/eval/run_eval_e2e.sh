#!/usr/bin/env bash
# `dragon eval` and `dragon cost` end to end on a tiny synthetic Qwen3 GGUF (2 layers, width 64,
# the real vocabulary and chat template) and the C-Eval-format items in tests/eval/data:
#  1. --print-prompt gives, byte for byte, the 2-shot prompt Python builds from the CSV files
#     with the C-Eval authors' template;
#  2. logits mode: the JSON report has its fields, per subject and category; each item's letter
#     is the argmax of its letter logits; the first item's letter logits equal those `dragon
#     logits` gives for the prompt `dragon tokenize` makes;
#  3. --resume: a run stopped after 1 item per subject, then the full run, reads 2 back;
#  4. mcq JSONL: scored; a bad line exits 1 naming file and line;
#  5. generate mode runs on the local model;
#  6. --endpoint against tests/eval/mock_openai_server.py: /completions letter logprobs (the mock
#     knows the answers: 100%), /chat/completions with answer extraction after </think> (the
#     mock always says B), the API key sent as a bearer token, and a wrong key exits 1 with the
#     endpoint's message;
#  7. when `dragon serve` exists: generate mode through it equals generate mode in-process;
#  8. dragon cost: $ per Mtok and the break-even volumes follow from the measured speeds.
# Prints the figures it measured; exits non-zero on the first failed check.
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
PY=/usr/bin/python3
DATA=tests/eval/data
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi

TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

MODEL="$TMP/qwen3.gguf"
"$DRAGON" synth qwen3-0.6b --layers 2 --set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 \
  --set num_key_value_heads=2 --set head_dim=32 --dtype f32 --seed 7 --out "$MODEL" >/dev/null

# 1. The prompt, byte for byte.
"$DRAGON" eval ceval --model "$MODEL" --data "$DATA/ceval" --shots 2 --subjects computer_network --print-prompt >"$TMP/prompt.txt"
"$PY" - "$DATA/ceval" "$TMP/prompt.txt" <<'PYEOF' || fail "the prompt differs from the C-Eval template"
import csv, sys
root, got = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
def rows(split):
    with open(f"{root}/{split}/computer_network_{split}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
def example(line, answer):
    s = line["question"] + "".join(f"\n{c}. {line[c]}" for c in "ABCD") + "\n答案："
    return s + (line["answer"] + "\n\n" if answer else "")
want = "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\n"
want += "".join(example(r, True) for r in rows("dev")[:2]) + example(rows("val")[0], False)
assert got == want, (got, want)
print(f"  1. 2-shot prompt: {len(got.encode())} bytes, equal to the C-Eval template built in Python")
PYEOF

# 2. Logits mode and its report.
"$DRAGON" eval ceval --model "$MODEL" --data "$DATA/ceval" --shots 2 --batch 3 --kv-type f32 --json "$TMP/report.json" \
  >"$TMP/table.txt" 2>"$TMP/eval.err" || { cat "$TMP/eval.err"; fail "dragon eval ceval exited $?"; }
sed 's/^/     /' "$TMP/table.txt"
grep '^eval:' "$TMP/eval.err" | sed 's/^/     /'
prompt_ids=$("$DRAGON" tokenize --model "$MODEL" --no-parse-special -f "$TMP/prompt.txt" | tr -s ' ' ',')
letters=$(for l in A B C D; do "$DRAGON" tokenize --model "$MODEL" --no-add-special "$l"; done | tr -s ' \n' ',,')
"$DRAGON" logits --model "$MODEL" --tokens "$prompt_ids" --kv-type f32 --out "$TMP/logits.f32" 2>/dev/null
"$PY" - "$TMP/report.json" "$TMP/logits.f32" "$letters" "$prompt_ids" <<'PYEOF' || fail "the logits-mode report is wrong"
import json, sys
import numpy as np
r = json.load(open(sys.argv[1], encoding="utf-8"))
for k in ["task", "model", "mode", "shots", "backend", "n_items", "n_correct", "accuracy", "average_subject_accuracy",
          "subjects", "categories", "items", "elapsed_s"]:
    assert k in r, k
assert r["task"] == "ceval" and r["mode"] == "logits" and r["shots"] == 2 and r["n_items"] == 7, r
assert list(r["subjects"]) == ["computer_network", "basic_medicine"], list(r["subjects"])
assert set(r["categories"]) == {"STEM", "Other"}
assert r["n_correct"] == sum(i["correct"] for i in r["items"])
for item in r["items"]:
    s = item["letter_scores"]
    assert len(s) == 4 and item["pred"] == "ABCD"[int(np.argmax(s))], item
    assert item["correct"] == (item["pred"] == item["answer"])
ids = [int(x) for x in sys.argv[3].strip(",").split(",")]
assert len(ids) == 4, ids
logits = np.fromfile(sys.argv[2], dtype=np.float32)
n_prompt = len(sys.argv[4].split(","))
last = logits.reshape(n_prompt, -1)[-1]
want = last[ids]
got = np.array(r["items"][0]["letter_scores"])
err = np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-9)
assert err < 1e-4, (got, want)
print(f"  2. report: {r['n_items']} items, accuracy {100*r['accuracy']:.1f}%, subject average "
      f"{100*r['average_subject_accuracy']:.1f}%; item 1 letter logits vs dragon logits: max rel diff {err:.1e}")
PYEOF

# 3. Resume.
"$DRAGON" eval ceval --model "$MODEL" --data "$DATA/ceval" --shots 2 --limit 1 --resume "$TMP/resume.jsonl" \
  --no-progress >/dev/null 2>&1
[ "$(wc -l <"$TMP/resume.jsonl")" = 2 ] || fail "the first run did not write 2 records"
"$DRAGON" eval ceval --model "$MODEL" --data "$DATA/ceval" --shots 2 --resume "$TMP/resume.jsonl" --no-progress \
  --json "$TMP/resumed.json" >/dev/null 2>"$TMP/resume.err"
grep -q "5 items scored .*, 2 read back from" "$TMP/resume.err" || { cat "$TMP/resume.err"; fail "resume did not skip 2 items"; }
"$PY" - "$TMP/report.json" "$TMP/resumed.json" <<'PYEOF' || fail "the resumed run differs from the straight run"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["resumed"] == 2 and b["n_items"] == 7
assert [i["pred"] for i in a["items"]] == [i["pred"] for i in b["items"]]
print(f"  3. resume: 2 items read back, 5 scored; same letters as the straight run")
PYEOF

# 4. MCQ JSONL.
"$DRAGON" eval mcq --model "$MODEL" --data "$DATA/mcq.jsonl" --json "$TMP/mcq.json" --no-progress >/dev/null 2>&1 ||
  fail "dragon eval mcq exited $?"
"$PY" - "$TMP/mcq.json" <<'PYEOF' || fail "the mcq report is wrong"
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
assert r["task"] == "mcq" and r["n_items"] == 4, r
assert list(r["categories"]) == ["心内科", "内分泌科", "影像科"], list(r["categories"])
assert len(r["items"][2]["letter_scores"]) == 5
print(f"  4. mcq: 4 items in 3 categories, accuracy {100*r['accuracy']:.0f}%")
PYEOF
printf '{"question": "q", "options": ["a", "b"], "answer": "A"}\n{"question": "q2", "options": ["a", "b"], "answer": "Z"}\n' >"$TMP/bad.jsonl"
if "$DRAGON" eval mcq --model "$MODEL" --data "$TMP/bad.jsonl" >/dev/null 2>"$TMP/bad.err"; then fail "a bad JSONL was accepted"; fi
grep -q "bad.jsonl:2: \"answer\" \"Z\" is not one of the option letters A..B" "$TMP/bad.err" || { cat "$TMP/bad.err"; fail "bad JSONL message"; }
echo "     bad line: $(cat "$TMP/bad.err")"

# 5. Generate mode, local.
"$DRAGON" eval ceval --model "$MODEL" --data "$DATA/ceval" --mode generate --shots 1 --limit 1 --max-tokens 6 \
  --json "$TMP/gen.json" --no-progress >/dev/null 2>&1 || fail "generate mode exited $?"
"$PY" - "$TMP/gen.json" <<'PYEOF' || fail "the generate-mode report is wrong"
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
assert r["mode"] == "generate" and r["n_items"] == 2
assert all(0 < i["completion_tokens"] <= 6 for i in r["items"]), r["items"]
print(f"  5. generate: {[i.get('output', '')[:20] for i in r['items']]} -> {[i['pred'] for i in r['items']]}")
PYEOF

# 6. Endpoint mode against the mock.
"$PY" tests/eval/mock_openai_server.py "$TMP/port" "$TMP/mock.log" "$DATA/ceval" sk-test &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || fail "the mock server did not start"
URL="http://127.0.0.1:$(cat "$TMP/port")/v1"
"$DRAGON" eval ceval --endpoint "$URL" --api-model mock-1 --api-key sk-test --data "$DATA/ceval" --shots 2 \
  --json "$TMP/ep_logits.json" --no-progress >/dev/null 2>&1 || fail "endpoint logits mode exited $?"
"$DRAGON" eval ceval --endpoint "$URL/" --api-model mock-1 --api-key sk-test --data "$DATA/ceval" --shots 2 --mode generate \
  --json "$TMP/ep_chat.json" --no-progress >/dev/null 2>&1 || fail "endpoint generate mode exited $?"
if "$DRAGON" eval ceval --endpoint "$URL" --api-model mock-1 --api-key wrong --data "$DATA/ceval" --limit 1 \
  --no-progress >/dev/null 2>"$TMP/ep_bad.err"; then fail "a wrong API key was accepted"; fi
grep -q 'HTTP 401: "Incorrect API key provided"' "$TMP/ep_bad.err" || { cat "$TMP/ep_bad.err"; fail "401 message"; }
"$PY" - "$TMP/ep_logits.json" "$TMP/ep_chat.json" "$TMP/mock.log" <<'PYEOF' || fail "endpoint mode is wrong"
import json, sys
lg, ch = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
log = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
assert lg["n_items"] == 7 and lg["accuracy"] == 1.0, lg["accuracy"]
assert all(i["letter_scores"][ord(i["answer"]) - 65] == -0.1 for i in lg["items"])
want_b = sum(i["answer"] == "B" for i in ch["items"])
assert all(i["pred"] == "B" for i in ch["items"]) and ch["n_correct"] == want_b, ch["n_correct"]
comp = [e for e in log if e["path"] == "/v1/completions" and e["authorization"] == "Bearer sk-test"]
chat = [e for e in log if e["path"] == "/v1/chat/completions"]
assert len(comp) == 7 and len(chat) == 7, (len(comp), len(chat))
assert comp[0]["body"]["model"] == "mock-1" and comp[0]["body"]["max_tokens"] == 1 and comp[0]["body"]["logprobs"] >= 4
assert comp[0]["body"]["temperature"] == 0
m = chat[0]["body"]["messages"]
assert m[0]["role"] == "system" and [x["role"] for x in m[1:]] == ["user", "assistant", "user", "assistant", "user"], m
assert chat[0]["body"]["temperature"] == 0
print(f"  6. endpoint: letters via /completions {100*lg['accuracy']:.0f}% (mock knows the answers), "
      f"chat via /chat/completions {ch['n_correct']}/7 = the {want_b} items whose answer is B; bearer key sent; wrong key -> 401")
PYEOF

# 7. The same answers through `dragon serve` as in-process, when the server exists.
if "$DRAGON" serve --help >/dev/null 2>&1; then
  SPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$DRAGON" serve --model "$MODEL" --name tiny --port "$SPORT" >"$TMP/serve.log" 2>&1 &
  PIDS+=($!)
  up=0
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPORT/v1/models" >/dev/null 2>&1 && up=1 && break; sleep 0.2; done
fi
if [ "${up:-0}" = 0 ]; then
  echo "  7. dragon serve not available (not built, or not started by 'serve --model M --port P'): comparison not run"
else
  "$DRAGON" eval ceval --endpoint "http://127.0.0.1:$SPORT/v1" --api-model tiny --data "$DATA/ceval" --mode generate \
    --shots 1 --limit 1 --max-tokens 6 --json "$TMP/serve.json" --no-progress >/dev/null 2>"$TMP/serve_eval.err" ||
    { cat "$TMP/serve_eval.err" "$TMP/serve.log"; fail "eval against dragon serve exited $?"; }
  "$PY" - "$TMP/gen.json" "$TMP/serve.json" <<'PYEOF' || fail "dragon serve and in-process generate differ"
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
# The texts may differ in special tokens the server leaves out; the letters and the score may not.
assert [i["pred"] for i in a["items"]] == [i["pred"] for i in b["items"]], (a["items"], b["items"])
assert a["n_correct"] == b["n_correct"]
print(f"  7. dragon serve: the same letters {[i['pred'] for i in b['items']]} as in-process")
PYEOF
fi

# 8. Cost.
"$DRAGON" cost --model "$MODEL" --prompt-tokens 32 --gen-tokens 8 --usd-per-hour 0.5 --prices data/vendor_prices.json \
  --json "$TMP/cost.json" >"$TMP/cost.txt" 2>/dev/null || fail "dragon cost exited $?"
sed -n '1,5p' "$TMP/cost.txt" | sed 's/^/     /'
"$PY" - "$TMP/cost.json" data/vendor_prices.json <<'PYEOF' || fail "the cost figures do not follow from the speeds"
import json, math, sys
c = json.load(open(sys.argv[1]))
prices = json.load(open(sys.argv[2]))["prices"]
close = lambda a, b: math.isclose(a, b, rel_tol=1e-9)
assert c["prompt_tokens_per_s"] > 0 and c["gen_tokens_per_s"] > 0
assert close(c["input_usd_per_mtok"], 0.5 / (c["prompt_tokens_per_s"] * 3600) * 1e6)
assert close(c["output_usd_per_mtok"], 0.5 / (c["gen_tokens_per_s"] * 3600) * 1e6)
assert close(c["monthly_usd"], 0.5 * 730)
assert len(c["vendors"]) == len(prices)
for v, p in zip(c["vendors"], prices):
    blended = 0.75 * p["input_usd_per_mtok"] + 0.25 * p["output_usd_per_mtok"]
    assert close(v["blended_usd_per_mtok"], blended) and close(v["break_even_mtok_per_month"], 0.5 * 730 / blended)
    assert v["break_even_reachable"] == (v["break_even_mtok_per_month"] <= c["capacity_mtok_per_month"])
print(f"  8. cost: {c['prompt_tokens_per_s']:.0f} prompt tok/s, {c['gen_tokens_per_s']:.0f} gen tok/s at $0.5/h -> "
      f"${c['input_usd_per_mtok']:.3f} / ${c['output_usd_per_mtok']:.3f} per Mtok; {len(prices)} vendor rows checked")
PYEOF
echo "PASS: dragon eval / dragon cost end to end"
