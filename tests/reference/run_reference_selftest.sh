#!/usr/bin/env bash
# Self-test of the PyTorch reference's safetensors reader (FP8 / BF16 decoding, shards, block scales).
set -euo pipefail
cd "$(dirname "$0")/../.."
/usr/bin/python3 tests/reference/selftest_safetensors_io.py
