#!/usr/bin/env bash
# `dragon serve` end to end on a tiny synthetic Qwen3 GGUF (2 layers, narrow, real tokenizer and
# chat template): the official npm `openai` client (tests/server/openai_conformance.mjs: chat,
# stream + usage, greedy equal to `dragon run`, logprobs, JSON mode, json_schema answers that
# validate, forced tool calls, completions, models, 401 / 400 errors), then raw HTTP with curl for
# the Ollama routes (a format schema among them), /health and /metrics. The server
# is stopped at the end whatever happens; every request has a timeout.
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi
TMP=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$TMP/server.log" ] && tail -20 "$TMP/server.log"; exit 1; }

MODEL="$TMP/tiny.gguf"
"$DRAGON" synth qwen3-0.6b --layers 2 --set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 \
  --set num_key_value_heads=2 --set head_dim=32 --dtype f32 --seed 5 --out "$MODEL" >/dev/null
expected=$(timeout 120 "$DRAGON" run --model "$MODEL" -n 16 --temp 0 "你好" 2>/dev/null)

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY=test-key-123
"$DRAGON" serve --model "$MODEL" --name tiny --port "$PORT" --api-key "$KEY" --ctx 512 --parallel 2 --threads 2 \
  --usd-per-hour 36 >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf -m 2 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "dragon serve exited"
  sleep 0.2
done
curl -sf -m 2 "http://127.0.0.1:$PORT/health" >/dev/null || fail "server not healthy after 20 s"
echo "  dragon serve on 127.0.0.1:$PORT"

timeout 300 node tests/server/openai_conformance.mjs "http://127.0.0.1:$PORT/v1" "$KEY" "$expected" || fail "openai client checks"

AUTH=(-H "Authorization: Bearer $KEY")
# Ollama: /api/chat non-stream, /api/generate streamed NDJSON, tags, show, version.
curl -sf -m 60 "${AUTH[@]}" "http://127.0.0.1:$PORT/api/chat" \
  -d '{"model": "tiny", "messages": [{"role": "user", "content": "你好"}], "stream": false, "options": {"temperature": 0, "num_predict": 8}}' \
  >"$TMP/chat.json" || fail "/api/chat"
curl -sf -m 60 "${AUTH[@]}" "http://127.0.0.1:$PORT/api/generate" -d '{"model": "tiny", "prompt": "hi", "options": {"num_predict": 6}}' \
  >"$TMP/gen.ndjson" || fail "/api/generate"
# Ollama's format with a JSON Schema: constrained like response_format json_schema.
curl -sf -m 60 "${AUTH[@]}" "http://127.0.0.1:$PORT/api/chat" \
  -d '{"model": "tiny", "messages": [{"role": "user", "content": "JSON"}], "stream": false, "options": {"seed": 3, "num_predict": 80},
       "format": {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}}, "required": ["ok", "n"]}}' \
  >"$TMP/format.json" || fail "/api/chat with a format schema"
curl -sf -m 10 "${AUTH[@]}" "http://127.0.0.1:$PORT/api/tags" >"$TMP/tags.json" || fail "/api/tags"
curl -sf -m 10 "${AUTH[@]}" "http://127.0.0.1:$PORT/api/show" -d '{"model": "tiny"}' >"$TMP/show.json" || fail "/api/show"
curl -sf -m 10 "${AUTH[@]}" "http://127.0.0.1:$PORT/api/version" >"$TMP/version.json" || fail "/api/version"
curl -sf -m 10 "${AUTH[@]}" "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics.txt" || fail "/metrics"
/usr/bin/python3 - "$TMP" <<'PYEOF' || fail "Ollama / metrics responses"
import json, sys, os
d = sys.argv[1]
chat = json.load(open(os.path.join(d, "chat.json")))
assert chat["done"] is True and chat["message"]["role"] == "assistant" and chat["eval_count"] > 0, chat
lines = [json.loads(l) for l in open(os.path.join(d, "gen.ndjson")) if l.strip()]
assert lines[-1]["done"] is True and all(not l["done"] for l in lines[:-1]), lines
fmt = json.loads(json.load(open(os.path.join(d, "format.json")))["message"]["content"])
assert isinstance(fmt["ok"], bool) and isinstance(fmt["n"], int) and set(fmt) == {"ok", "n"}, fmt
tags = json.load(open(os.path.join(d, "tags.json")))
assert tags["models"][0]["details"]["family"] == "qwen3", tags
show = json.load(open(os.path.join(d, "show.json")))
assert "im_start" in show["template"], show.keys()
assert json.load(open(os.path.join(d, "version.json")))["version"]
metrics = open(os.path.join(d, "metrics.txt")).read()
for name in ("dragon_http_requests_total", "dragon_time_to_first_token_seconds_bucket", "dragon_inter_token_latency_seconds_count",
             "dragon_kv_usage_ratio", "dragon_generated_tokens_total"):
    assert name in metrics, name
gen = sum(float(l.split()[-1]) for l in metrics.splitlines() if l.startswith("dragon_generated_tokens_total"))
# --usd-per-hour 36: the machine's cost so far over the tokens served so far (the live `dragon cost`).
value = {l.split()[0]: float(l.split()[1]) for l in metrics.splitlines() if l and not l.startswith("#") and "{" not in l}
prompt = value["dragon_prompt_tokens_total"]
usd, per_mtok = value["dragon_machine_cost_usd_total"], value["dragon_cost_usd_per_million_tokens"]
assert value["dragon_machine_usd_per_hour"] == 36, value["dragon_machine_usd_per_hour"]
assert 0 < usd < 36 * 600 / 3600, usd  # the server has run for less than 10 minutes
assert abs(per_mtok - usd / (prompt + gen) * 1e6) <= 1e-6 * per_mtok, (per_mtok, usd, prompt, gen)
assert abs(value["dragon_cost_usd_per_million_generated_tokens"] - usd / gen * 1e6) <= 1e-6 * per_mtok
print(f"  cost: ${usd:.5f} so far at $36/h, ${per_mtok:.2f} per million tokens ({prompt:.0f} prompt + {gen:.0f} generated)")
print(f"  ollama: /api/chat {chat['eval_count']} tokens, /api/generate {len(lines)} NDJSON lines, format schema gave {fmt}; tags, show, version ok")
print(f"  metrics: {len(metrics.splitlines())} lines, {gen:.0f} tokens generated in all")
PYEOF
echo "PASS"
