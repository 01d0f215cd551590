#!/usr/bin/env bash
# Load and fault test of `dragon serve` (tests/server/load_fault.py): concurrent streaming and
# non-streaming chats with clients hanging up mid-stream, malformed JSON, oversized bodies, slow
# senders and prompts over the context; then /health, greedy answers equal to the same prompt run
# alone, RSS back within 5 % of its baseline. The CI size is 8 clients x 20 s on the demo model;
# `--full` runs 64 clients x 60 s (the figures in bench/RESULTS.md). Other flags go to the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${DRAGON_BUILD:-build}"
args=(--clients 8 --seconds 20)
if [ "${1:-}" = "--full" ]; then args=(--clients 64 --seconds 60); shift; fi
# Under ASan (scripts/test.sh --sanitize) freed memory sits in quarantine: RSS says nothing there.
if [ -n "${ASAN_OPTIONS:-}" ]; then echo "ASan build: RSS check relaxed"; args+=(--rss-limit 1000); fi
exec python3 tests/server/load_fault.py --dragon "$BUILD/dragon" --model models/dragon-demo-poems.gguf "${args[@]}" "$@"
