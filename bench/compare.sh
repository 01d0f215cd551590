#!/usr/bin/env bash
# Side by side with llama.cpp: dragon bench and the llama.cpp oracle (the prebuilt libllama of the
# tests, build/llama_oracle --bench-pp/--bench-tg) on the same synthetic GGUFs, the same threads,
# an F16 KV cache for both, runs interleaved (dragon, llama.cpp, dragon, ...) so drifting load
# hits both alike. Prints prompt and generation tokens/s (mean ± stdev), the ratios, and the
# fraction of the measured read bandwidth dragon's generation reaches.
#
#   bench/compare.sh [--quick] [-t THREADS] [-p 512] [-n 128] [-r 3] [--only NAME]
#
# Models are made once with `dragon synth` into $DRAGON_BENCH_CACHE (default
# ~/.cache/dragon-bench, outside the repo; deepseek-v2-lite Q4_K is ~9 GB). --quick: one tiny
# model, few tokens — a smoke test of this script, not a measurement. A model dragon cannot run
# yet (MoE / MLA forward passes still landing) prints "n/a". Never run while something builds:
# llama.cpp's spinning threads collapse on busy cores (LLAMA_POLL=0 makes them sleep).
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
ORACLE="$BUILD/llama_oracle"
PY=/usr/bin/python3
CACHE="${DRAGON_BENCH_CACHE:-$HOME/.cache/dragon-bench}"
THREADS=2 PP=512 TG=128 REPS=3 QUICK=0 ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    -t) THREADS=$2; shift ;;
    -p) PP=$2; shift ;;
    -n) TG=$2; shift ;;
    -r) REPS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: $0 [--quick] [-t N] [-p N] [-n N] [-r N] [--only NAME]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built" >&2; exit 1; }
[ -x "$ORACLE" ] || { echo "FAIL: $ORACLE not built (scripts/setup.sh; tests/oracle/README.md)" >&2; exit 1; }
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi
mkdir -p "$CACHE"

# name | preset | dtype | synth flags
if [ "$QUICK" = 1 ]; then
  PP=32 TG=8 REPS=1
  MODELS=("qwen3-0.6b-2l-q8_0|qwen3-0.6b|q8_0|--layers 2")
else
  MODELS=(
    "qwen3-0.6b-q8_0|qwen3-0.6b|q8_0|"
    "qwen3-8b-8l-q4_k|qwen3-8b|q4_k|--layers 8"
    "qwen3-30b-a3b-8l-q8_0|qwen3-30b-a3b|q8_0|--layers 8"
    "qwen3-30b-a3b-8l-q4_k|qwen3-30b-a3b|q4_k|--layers 8"
    "deepseek-v2-lite-q4_k|deepseek-v2-lite|q4_k|"
  )
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

BW=$("$DRAGON" bench --membw -t "$THREADS" --json | "$PY" -c "import json,sys; print('%.1f' % json.load(sys.stdin)['membw_gb_per_s'])")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; read bandwidth $BW GB/s with $THREADS threads"
echo "settings: -p $PP -n $TG, $THREADS threads, $REPS interleaved repetitions, F16 KV cache, llama.cpp poll ${LLAMA_POLL:-50}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

for entry in "${MODELS[@]}"; do
  IFS='|' read -r name preset dtype flags <<<"$entry"
  [ -z "$ONLY" ] || [ "$ONLY" = "$name" ] || continue
  model="$CACHE/$name.gguf"
  if [ ! -f "$model" ]; then
    echo "synthesizing $model ..." >&2
    # shellcheck disable=SC2086
    "$DRAGON" synth "$preset" --format gguf --dtype "$dtype" $flags --seed 1 --out "$model.tmp" >/dev/null
    mv "$model.tmp" "$model"
  fi
  : >"$TMP/$name.dragon"; : >"$TMP/$name.llama"
  dragon_ok=1
  for ((r = 0; r < REPS; r++)); do
    if [ "$dragon_ok" = 1 ]; then
      if ! "$DRAGON" bench --model "$model" -p "$PP" -n "$TG" -t "$THREADS" -r 1 --no-membw --json \
          >>"$TMP/$name.dragon" 2>"$TMP/$name.err"; then
        dragon_ok=0
        echo "  $name: dragon: $(tail -1 "$TMP/$name.err")" >&2
      fi
    fi
    "$ORACLE" --model "$model" --bench-pp "$PP" --bench-tg "$TG" --threads "$THREADS" --kv-type f16 \
      --poll "${LLAMA_POLL:-50}" >>"$TMP/$name.llama" 2>"$TMP/$name.llerr" ||
      echo "  $name: llama.cpp: $(tail -1 "$TMP/$name.llerr")" >&2
  done
done

"$PY" - "$TMP" "$BW" "${MODELS[@]}" <<'PYEOF'
import json, os, re, statistics, sys
tmp, bw = sys.argv[1], float(sys.argv[2])
def ms(v):
    if not v: return "n/a"
    return f"{statistics.mean(v):8.1f} ± {statistics.stdev(v) if len(v) > 1 else 0:5.1f}"
def ratio(a, b):
    return f"{statistics.mean(a) / statistics.mean(b):5.2f}x" if a and b else "  n/a"
rows = []
print(f"\n{'model':24} | {'dragon pp':>16} | {'llama.cpp pp':>16} | {'pp':>6} | {'dragon tg':>16} | {'llama.cpp tg':>16} | {'tg':>6} | roofline")
print("-" * 24 + "-|-" + "-|-".join(["-" * 16, "-" * 16, "-" * 6, "-" * 16, "-" * 16, "-" * 6]) + "-|---------")
for entry in sys.argv[3:]:
    name = entry.split("|")[0]
    if not os.path.exists(f"{tmp}/{name}.llama"): continue
    runs = [json.loads(l) for l in open(f"{tmp}/{name}.dragon") if l.strip()]
    dpp = [r["pp_tokens_per_s"] for r in runs]; dtg = [r["tg_tokens_per_s"] for r in runs]
    text = open(f"{tmp}/{name}.llama").read()
    lpp = [float(x) for x in re.findall(r"bench pp \d+ tokens: [\d.]+ s, ([\d.]+) tokens/s", text)]
    ltg = [float(x) for x in re.findall(r"bench tg \d+ tokens: [\d.]+ s, ([\d.]+) tokens/s", text)]
    roof = f"{100 * statistics.mean(dtg) * runs[0]['weight_bytes_per_token'] / 1e9 / bw:5.0f} %" if dtg else "  n/a"
    print(f"{name:24} | {ms(dpp):>16} | {ms(lpp):>16} | {ratio(dpp, lpp):>6} | {ms(dtg):>16} | {ms(ltg):>16} | {ratio(dtg, ltg):>6} | {roof}")
PYEOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
