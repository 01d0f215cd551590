#!/usr/bin/env bash
# The full tokenizer parity corpus (not part of scripts/test.sh, which runs a bounded sample):
# 5000 random script mixes plus every C-Eval dev/val question in ../shared/data/ceval, through the
# real Qwen3 and DeepSeek-V3 tokenizers (JS reference) and dragon. Usage: tests/tokenizer/full_parity.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${DRAGON_BUILD:-build}
DRAGON_TOKENIZER_CORPUS_RANDOM=5000 DRAGON_TOKENIZER_CORPUS_CEVAL=100000 \
  "$BUILD/dragon_tests" --gtest_filter='RealTokenizers/TokenizerParity.*'
