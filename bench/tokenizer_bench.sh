#!/usr/bin/env bash
# Tokenizer speed, dragon vs llama.cpp, single thread, on the same multi-MB mixed corpus and the
# same vocabulary files (llama.cpp's own GGUF vocab files, so both load identical data).
# Usage: bench/tokenizer_bench.sh [MB]   (default 4 MB of text)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${DRAGON_BUILD:-build}
MB=${1:-4}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/tokenizer/make_corpus.py "$work/corpus.json" --random 3000 --ceval-limit 100000 >/dev/null
/usr/bin/python3 - "$work/corpus.json" "$work/corpus.txt" "$MB" <<'PY'
import json, sys
texts = json.load(open(sys.argv[1], encoding="utf-8"))
blob = "\n".join(texts)
target = int(float(sys.argv[3]) * 1e6)
out = (blob + "\n") * (target // max(1, len(blob.encode())) + 1)
data = out.encode()[:target]
data = data.decode("utf-8", errors="ignore").encode()
open(sys.argv[2], "wb").write(data)
PY
printf "%-16s %10s %12s %12s %8s\n" vocab bytes dragon_MB/s llama_MB/s ratio
for v in qwen2 deepseek-llm llama-bpe; do
  gguf=build/llama.cpp/models/ggml-vocab-$v.gguf
  d=$("$BUILD/dragon" tokenize --model "$gguf" --file "$work/corpus.txt" --bench 3)
  l=$("$BUILD/llama_tokenize_bench" "$gguf" "$work/corpus.txt" 3)
  /usr/bin/python3 - "$v" "$d" "$l" <<'PY'
import json, sys
d, l = json.loads(sys.argv[2]), json.loads(sys.argv[3])
flag = "" if d["tokens"] == l["tokens"] else f"  (token counts differ: {d['tokens']} vs {l['tokens']})"
print(f"{sys.argv[1]:16s} {d['bytes']:10d} {d['mb_per_s']:12.2f} {l['mb_per_s']:12.2f} {d['mb_per_s']/l['mb_per_s']:7.2f}x{flag}")
PY
done
