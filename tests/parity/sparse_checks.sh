# Sourced by the sparse-attention parity scripts (run_dsa_parity.sh, run_minimax_m3_parity.sh):
# two checks that the sparse selection is really exercised, written once. The caller provides
# $PY, $DRAGON, $THREADS_DRAGON, $work (a scratch directory) and the array `failed`.
#
#   must_differ LABEL TEST REF VOCAB N_TOKENS
#       the comparison has to MISS the parity bound by far (rel RMSE > 1e-2): e.g. dense attention
#       against the sparse logits, so the parity checks can fail.
#   serve_parallel_check LABEL GGUF
#       dragon serve --parallel 3: three greedy completions sent together must equal the same
#       requests sent one at a time (several sequences per batch, each with its own indexer keys
#       and selection; a repeated prompt resumes from the prefix cache, indexer keys included).

must_differ() {
  local label=$1 test=$2 ref=$3 vocab=$4 n_tokens=$5 out
  if out=$($PY tests/parity/dense_compare.py "$test" "$ref" --tokens "$n_tokens" --vocab "$vocab" --label "$label" \
             --max-rel-rmse 1e-2 --min-argmax 0); then
    echo "$out"; echo "FAIL $label: dense attention is indistinguishable from the sparse selection"; failed+=("$label")
  else
    echo "$out" | grep -v '^  position' | sed 's/^FAIL /(expected to miss) /'
    echo "PASS $label: dense attention misses the bound (the check above can fail)"
  fi
}

serve_parallel_check() {
  local label=$1 gguf=$2 port server i
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$DRAGON" serve --model "$gguf" --name sparse --port "$port" --ctx 256 --parallel 3 --threads "$THREADS_DRAGON" \
    >"$work/serve.log" 2>&1 &
  server=$!
  trap "kill $server 2>/dev/null || true; rm -rf '$work'" EXIT
  for _ in $(seq 1 60); do curl -sf -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.5; done
  complete() {  # complete PROMPT -> the completion text, hex
    curl -sf -m 120 "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"model\": \"sparse\", \"prompt\": \"$1\", \"max_tokens\": 16, \"temperature\": 0}" |
      "$PY" -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"].encode().hex())'
  }
  local prompts=("The quick brown fox jumps over the lazy dog and keeps running far away"
                 "床前明月光 疑是地上霜 举头望明月 低头思故乡 李白 静夜思"
                 "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)")
  local alone=() together=()
  for i in 0 1 2; do alone[i]=$(complete "${prompts[i]}" || echo "request failed"); done
  for i in 0 1 2; do complete "${prompts[i]}" >"$work/together.$i" 2>&1 & done
  wait %2 %3 %4 2>/dev/null || true
  for i in 0 1 2; do together[i]=$(cat "$work/together.$i"); done
  if [ "${alone[*]}" = "${together[*]}" ] && [[ "${alone[*]}" != *failed* ]]; then
    echo "PASS $label serve --parallel 3: 3 concurrent greedy completions identical to the sequential ones"
  else
    echo "FAIL $label serve --parallel 3"; echo "  alone:    ${alone[*]}"; echo "  together: ${together[*]}"
    tail -5 "$work/serve.log"; failed+=("$label serve")
  fi
  kill $server 2>/dev/null || true
  wait $server 2>/dev/null || true  # its shutdown, before the work directory goes
}
