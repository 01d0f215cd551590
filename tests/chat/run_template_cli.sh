#!/usr/bin/env bash
# dragon template end to end: the prompt it prints for a real HF tokenizer directory (Qwen3,
# DeepSeek-V3: chat_template and bos/eos from tokenizer_config.json) must equal what
# python3-jinja2 renders in HF's configuration, byte for byte.
set -euo pipefail
cd "$(dirname "$0")/../.."
DRAGON="${DRAGON_BUILD:-build}/dragon"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/messages.json" <<'JSON'
[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in 東京?"},
 {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "東京"}}}]},
 {"role": "tool", "content": "22°C"}, {"role": "user", "content": "Thanks \"friend\""}]
JSON
cat > "$work/tools.json" <<'JSON'
[{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
JSON
checked=0
for dir in build/share/tokenizers/qwen3 build/share/tokenizers/deepseek-v3; do
  [[ -f $dir/tokenizer_config.json ]] || { echo "missing $dir (run scripts/setup.sh)"; exit 1; }
  for flags in "" "--no-generation-prompt --var enable_thinking=false"; do
    # shellcheck disable=SC2086
    "$DRAGON" template --model "$dir" --messages "$work/messages.json" --tools "$work/tools.json" $flags > "$work/dragon.txt"
    gen=True; think=""
    [[ -n $flags ]] && { gen=False; think=", enable_thinking=False"; }
    /usr/bin/python3 - "$dir" "$work" "$gen" "$think" <<'PY' > "$work/python.txt"
import json, sys
sys.path.insert(0, "tests/chat")
import render_reference as r
d, work, gen, think = sys.argv[1:5]
cfg = json.load(open(d + "/tokenizer_config.json"))
tok = lambda v: v if isinstance(v, str) or v is None else v["content"]
kw = {"enable_thinking": False} if think else {}
out = r.make_env().from_string(r.load_template_source(d + "/tokenizer_config.json")).render(
    messages=json.load(open(work + "/messages.json")), tools=json.load(open(work + "/tools.json")), documents=None,
    add_generation_prompt=(gen == "True"), bos_token=tok(cfg.get("bos_token")) or "", eos_token=tok(cfg.get("eos_token")) or "", **kw)
sys.stdout.write(out)
PY
    if ! cmp -s "$work/dragon.txt" "$work/python.txt"; then
      echo "MISMATCH for $dir $flags"; diff "$work/python.txt" "$work/dragon.txt" | head -20; exit 1
    fi
    checked=$((checked + 1))
    echo "$dir ${flags:-(generation prompt)}: identical, $(wc -c < "$work/dragon.txt") bytes"
  done
done
echo "dragon template: $checked renders identical to python3-jinja2"
