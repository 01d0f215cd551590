#!/usr/bin/env bash
# The whole test suite: GoogleTest units (via ctest) and the parity / end-to-end scripts under
# tests/ (each tests/**/run_*.sh is one check that prints its own figures). Ends with the line
# "N passed, N failed". Runs scripts/setup.sh first, which is quick when nothing changed.
#
# scripts/test.sh --sanitize: the same code built with -fsanitize=address,undefined into
# build-asan/ (or $DRAGON_ASAN_BUILD; gcc, or clang with CC=clang CXX=clang++ on a new directory),
# then the unit tests and the end-to-end scripts listed in SANITIZE_SCRIPTS below run on it (they
# take DRAGON_BUILD). Any ASan / UBSan report fails the run. Not part of the default run: the
# instrumented build alone takes longer than CI's budget on 2 cores. CI runs the named subset
# instead: tests/fuzz/run_fuzz_smoke.sh (the parsers, fuzzed) and tests/fuzz/run_sanitize_units.sh
# (the unit tests of the code that reads untrusted input), both ASan + UBSan.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--sanitize" ]; then
  shift
  BUILD=${DRAGON_ASAN_BUILD:-build-asan}
  # The end-to-end scripts that exercise the most code per second: file readers and writers,
  # templates, a whole chat, the server (with clients hanging up), quantization, pull.
  SANITIZE_SCRIPTS=(tests/e2e/run_synth_info.sh tests/chat/run_template_cli.sh tests/e2e/run_dragon_run.sh
                    tests/server/run_openai_conformance.sh tests/server/run_load_fault.sh
                    tests/convert/run_quantize_e2e.sh tests/hub/run_pull_e2e.sh)
  # DRAGON_SKIP_SETUP=1: build/share and build/llama.cpp are already there (setup.sh would also
  # build all of Release first).
  [ -n "${DRAGON_SKIP_SETUP:-}" ] || bash scripts/setup.sh >/dev/null || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
  echo "== sanitizer build ($BUILD: ${CXX:-c++}, ASan + UBSan, -O1) =="
  build_start=$(date +%s)
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DDRAGON_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" -DCMAKE_C_FLAGS_SANITIZE="-O1 -g1" >/dev/null &&
    ninja -C "$BUILD" dragon dragon_tests || { echo "sanitizer build failed"; echo "0 passed, 1 failed"; exit 1; }
  # run_quantize_e2e.sh compares with llama.cpp through $BUILD/llama_oracle (when the npm libllama is there).
  if ninja -C "$BUILD" -t query llama_oracle >/dev/null 2>&1; then ninja -C "$BUILD" llama_oracle >/dev/null || exit 1; fi
  echo "sanitizer build: $(( $(date +%s) - build_start ))s"
  # halt_on_error: the first report fails the test that caused it. Leaks are reported at exit.
  export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The synthetic models, tokenizers and vocab files sit next to the Release binary.
  [ -e "$BUILD/share" ] || ln -s "$(pwd)/build/share" "$BUILD/share"
  passed=0 failed=0 failures=()
  echo "== unit tests (ASan + UBSan) =="
  start=$(date +%s)
  if "$BUILD/dragon_tests" --gtest_brief=1 ${DRAGON_SANITIZE_FILTER:+--gtest_filter=$DRAGON_SANITIZE_FILTER}; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("dragon_tests under ASan + UBSan")
  fi
  echo "-- dragon_tests under ASan + UBSan: $(( $(date +%s) - start ))s"
  for script in "${SANITIZE_SCRIPTS[@]}"; do
    echo "== $script (ASan + UBSan) =="
    start=$(date +%s)
    if DRAGON_BUILD="$BUILD" bash "$script"; then
      passed=$((passed + 1)); echo "-- PASS $script ($(( $(date +%s) - start ))s)"
    else
      failed=$((failed + 1)); failures+=("$script"); echo "-- FAIL $script ($(( $(date +%s) - start ))s)"
    fi
  done
  echo
  for f in "${failures[@]}"; do echo "FAILED: $f"; done
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit
fi

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

# Scripted checks: parity against the oracles, CLI end-to-end runs. Each script's output is also
# kept, so that the end of the run can repeat the last lines of the ones that failed: a CI report
# often shows only the tail of the whole log.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
echo "free disk space: $(df -h --output=avail . | tail -1) here, $(df -h --output=avail "${TMPDIR:-/tmp}" | tail -1) in ${TMPDIR:-/tmp}"
while IFS= read -r script; do
  echo "== $script =="
  start=$(date +%s)
  log="$logs/$(echo "$script" | tr / _).log"
  # </dev/null: a script (or a tool in it) that reads stdin must not eat the list of scripts.
  if bash "$script" </dev/null 2>&1 | tee "$log"; (( PIPESTATUS[0] == 0 )); then
    passed=$((passed + 1)); echo "-- PASS $script ($(( $(date +%s) - start ))s)"
  else
    failed=$((failed + 1)); failures+=("$script"); echo "-- FAIL $script ($(( $(date +%s) - start ))s)"
  fi
done < <(find tests -name 'run_*.sh' | sort)

echo
for f in "${failures[@]}"; do
  [[ $f == tests/* ]] || continue
  echo "== the last lines of $f =="
  tail -n 25 "$logs/$(echo "$f" | tr / _).log"
done
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
