#!/usr/bin/env bash
# Full chat-template parity run (not part of scripts/test.sh: it takes longer). Renders a corpus
# of COUNT conversations (default 300) through every family template with python3-jinja2 and
# with dragon, and fails on any byte difference. ALL=1 adds every template in llama.cpp's collection.
set -euo pipefail
cd "$(dirname "$0")/../.."
DRAGON_TEMPLATE_PARITY_COUNT="${COUNT:-300}" DRAGON_TEMPLATE_PARITY_ALL="${ALL:-0}" \
  "${DRAGON_BUILD:-build}/dragon_tests" --gtest_filter='ChatTemplateParity.*'
