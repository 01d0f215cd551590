#!/usr/bin/env bash
# Rebuilds dragon's demo model (models/dragon-demo-poems.gguf): a tiny Qwen3-architecture model
# trained on classical Chinese poems — a DEMO that shows real text, not a useful model.
#   bash tools/demo/build_demo.sh [OUT.gguf] [STEPS]
# Needs build/dragon, the real Qwen3 tokenizer (build/share/tokenizers/qwen3), llama.cpp's gguf-py
# (build/llama.cpp/gguf-py; all from scripts/setup.sh), python3-torch and fortunes-zh.
# About an hour on one core for 1200 steps (install libopenblas0-pthread: torch is 5x faster with it).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-models/dragon-demo-poems.gguf}"
STEPS="${2:-1200}"
BUILD="${DRAGON_BUILD:-build}"
PY=/usr/bin/python3
[ -f /usr/share/games/fortunes/tang300 ] || { echo "build_demo: needs Debian's fortunes-zh (apt-get install fortunes-zh)"; exit 1; }
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The layout: the real Qwen3 tokenizer and chat template, this shape, Q8_0 (norms stay F32),
# named as the demo it is wherever the file is looked at.
"$BUILD/dragon" synth qwen3-0.6b --format gguf --dtype q8_0 --layers 6 --seed 0 \
  --set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32 \
  --set intermediate_size=256 --set max_position_embeddings=2048 \
  --name "dragon demo: classical Chinese poems (tiny, not a real model)" \
  --description "A DEMO trained by tools/demo/train_demo.py on the Tang 300 / Song 100 poems of Debian's fortunes-zh; Qwen3 architecture and tokenizer, 6 layers, hidden 64." \
  --out "$tmp/layout.gguf" >/dev/null

# The trained weights are kept in the build directory (.npz), so a failed export never costs a retraining.
OPENBLAS_NUM_THREADS=1 "$PY" tools/demo/train_demo.py --dragon "$BUILD/dragon" --layout "$tmp/layout.gguf" \
  --steps "$STEPS" --checkpoint "${DEMO_CHECKPOINT:-$BUILD/dragon-demo-poems.npz}"
mv "$tmp/layout.gguf" "$OUT"
ls -l "$OUT"
