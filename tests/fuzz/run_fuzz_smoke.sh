#!/usr/bin/env bash
# CI smoke of the fuzzers: builds every libFuzzer target (clang-14, ASan + UBSan) and runs each
# for a few seconds from its committed corpus (which holds the reproducers of every bug the
# fuzzers found: a regression makes this fail). scripts/fuzz.sh TARGET SECONDS fuzzes for real.
# DRAGON_FUZZ_SECONDS (default 4) sets the time per target; DRAGON_FUZZ_BUILD the build dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${DRAGON_FUZZ_SECONDS:-4}
# A new build directory is configured at -O0: it compiles ~40 % faster, which matters more than
# execution speed for a few seconds of fuzzing.
export DRAGON_FUZZ_OPT=${DRAGON_FUZZ_OPT:--O0}
start=$(date +%s)
bash scripts/fuzz.sh all "$seconds"
echo "fuzz smoke: $(bash scripts/fuzz.sh --list | wc -l) targets, ${seconds}s each, $(( $(date +%s) - start ))s in all (build included)"
