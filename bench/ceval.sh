#!/usr/bin/env bash
# C-Eval val (52 subjects, 1,346 questions) on a model you bring, the way the C-Eval authors
# score base models (5-shot, letter logits) — or chat / thinking models with MODE=generate.
#   bench/ceval.sh MODEL [extra dragon eval flags...]
#   bench/ceval.sh --endpoint http://host:8080/v1 --api-model NAME [flags...]   (a served model)
# Environment: CEVAL_DIR (default /work/shared/data/ceval or ../shared/data/ceval), SHOTS (5),
# MODE (logits | generate), THREADS (nproc), OUT (ceval-<name>-<date>.json in the current directory).
# The report is resumable: run the same command again after an interruption and finished
# questions are read back from $OUT.resume.jsonl.
# C-Eval is CC BY-NC-SA 4.0: it is read from CEVAL_DIR, never copied into this repository.
# Not part of scripts/test.sh (a 7B model takes hours on 2 cores).
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
[ -x "$DRAGON" ] || { echo "$DRAGON not built"; exit 1; }
[ $# -ge 1 ] || { sed -n '2,11p' "$0"; exit 2; }
CEVAL_DIR="${CEVAL_DIR:-}"
if [ -z "$CEVAL_DIR" ]; then
  for d in /work/shared/data/ceval ../shared/data/ceval; do [ -d "$d/val" ] && CEVAL_DIR="$d" && break; done
fi
[ -n "$CEVAL_DIR" ] && [ -d "$CEVAL_DIR/val" ] || { echo "set CEVAL_DIR to the C-Eval folder (with dev/ and val/)"; exit 1; }

if [ "$1" = "--endpoint" ]; then
  target=("$@")
  name=$(printf '%s' "${*}" | sed -n 's/.*--api-model \([^ ]*\).*/\1/p')
  shift $#
else
  target=(--model "$1" --threads "${THREADS:-$(nproc)}")
  name=$(basename "$1")
  shift
fi
OUT="${OUT:-ceval-${name:-endpoint}-$(date +%Y%m%d).json}"
mkdir -p "$(dirname "$OUT")"
echo "C-Eval val from $CEVAL_DIR, ${SHOTS:-5}-shot, mode ${MODE:-logits} -> $OUT"
"$DRAGON" eval ceval "${target[@]}" --data "$CEVAL_DIR" --shots "${SHOTS:-5}" --mode "${MODE:-logits}" \
  --resume "$OUT.resume.jsonl" --json "$OUT" "$@"
