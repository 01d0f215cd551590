#!/usr/bin/env bash
# The whole test suite: GoogleTest units (via ctest) and the parity / end-to-end scripts under
# tests/ (each tests/**/run_*.sh is one check that prints its own figures). Ends with the line
# "N passed, N failed". Runs scripts/setup.sh first, which is quick when nothing changed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
failures=()

echo "== unit tests (ctest) =="
ctest_log=$(mktemp)
(cd build && ctest --output-on-failure --timeout 600 -j "$(nproc)") 2>&1 | tee "$ctest_log"
summary=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$ctest_log" | tail -1)
if [[ $summary =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
  f=${BASH_REMATCH[1]}; total=${BASH_REMATCH[2]}
  passed=$((passed + total - f)); failed=$((failed + f))
  ((f)) && failures+=("ctest: $f unit tests")
else
  failed=$((failed + 1)); failures+=("ctest did not run")
fi
rm -f "$ctest_log"

# Scripted checks: parity against the oracles, CLI end-to-end runs.
while IFS= read -r script; do
  echo "== $script =="
  start=$(date +%s)
  if bash "$script"; then
    passed=$((passed + 1)); echo "-- PASS $script ($(( $(date +%s) - start ))s)"
  else
    failed=$((failed + 1)); failures+=("$script"); echo "-- FAIL $script ($(( $(date +%s) - start ))s)"
  fi
done < <(find tests -name 'run_*.sh' | sort)

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
