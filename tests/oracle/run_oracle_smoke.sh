#!/usr/bin/env bash
# Smoke test of the llama.cpp oracle on a small synthetic Qwen3 GGUF (f32): the logits file has
# the right size, is finite and informative (per-position std well above 0, argmax varies);
# --generate 16 prints 16 ids, the first equals the prompt's last argmax, and decoding the prompt
# plus the generated ids in ONE batch gives back the same greedy ids (KV-cache path == batch path).
# Prints the oracle's prompt / generation speed on that model.
# One thread by default (ORACLE_THREADS): the cores are shared, and ggml's two threads meet at a
# barrier per graph node, so one preempted thread makes generation ~50x slower.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh

ensure_oracle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if synth_available; then
  echo "model: dragon synth qwen3-0.6b (2 layers, small widths, f32)"
  synth_model qwen3-0.6b gguf "$work/model.gguf" 11
  synth_model qwen3-0.6b hf "$work/hf" 11  # only for vocab_size
  vocab=$(hf_vocab_size "$work/hf")
else
  echo "model: tests/oracle/make_tiny_qwen3.py (dragon synth not available yet)"
  "$PY" tests/oracle/make_tiny_qwen3.py --out "$work" --seed 11 >/dev/null
  vocab=$(hf_vocab_size "$work/hf")
fi

n=48
tokens=$(prompt_tokens $n)
start=$(date +%s.%N)
generated=$("$ORACLE" --model "$work/model.gguf" --tokens "$tokens" --out "$work/logits.f32" --generate 16 --threads "$THREADS")
echo "oracle: $n tokens + 16 generated in $(echo "$(date +%s.%N) - $start" | bc) s"
"$PY" tests/oracle/logits_check.py sanity "$work/logits.f32" --tokens $n --vocab "$vocab"

echo "generated: $generated"
"$PY" - "$work/logits.f32" "$n" "$vocab" "$generated" <<'EOF'
import sys
import numpy as np
path, n, vocab, generated = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ids = [int(t) for t in generated.split(",")]
assert len(ids) == 16, f"FAIL: --generate 16 printed {len(ids)} ids"
assert all(0 <= t < vocab for t in ids), f"FAIL: generated id outside [0, {vocab})"
last = int(np.fromfile(path, dtype="<f4").reshape(n, vocab)[-1].argmax())
assert ids[0] == last, f"FAIL: first generated id {ids[0]} != argmax of the last prompt position {last}"
print(f"16 ids in range, first = last-position argmax {last}")
EOF

# The same continuation through one batch: rows n-1 .. n+14 must argmax to the generated ids.
"$ORACLE" --model "$work/model.gguf" --tokens "$tokens,${generated%,*}" --out "$work/all.f32" --threads "$THREADS"
"$PY" - "$work/all.f32" "$n" "$vocab" "$generated" <<'EOF'
import sys
import numpy as np
path, n, vocab, generated = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ids = [int(t) for t in generated.split(",")]
logits = np.fromfile(path, dtype="<f4").reshape(n + 15, vocab)
batch_ids = logits[n - 1:].argmax(axis=1).tolist()
same = sum(a == b for a, b in zip(ids, batch_ids))
print(f"KV-cache generation vs one-batch argmax: {same}/16 equal")
assert same == 16, f"FAIL: cache path {ids} vs batch path {batch_ids}"
EOF

echo "speed ($THREADS thread(s); load average $(cut -d' ' -f1-3 /proc/loadavg)):"
"$ORACLE" --model "$work/model.gguf" --bench-pp 64 --bench-tg 32 --threads "$THREADS"
