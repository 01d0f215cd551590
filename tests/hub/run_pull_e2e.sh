#!/usr/bin/env bash
# dragon pull / ls / rm against a fake Hugging Face hub on 127.0.0.1 (tests/hub/fake_hub.py):
# a full pull, a download interrupted mid-file and resumed (bytes not fetched twice), a sha256
# mismatch (error, nothing left as complete), offline (closed port -> clear error), bad names,
# ls sizes and rm. Prints the figures it measures.
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
PY=/usr/bin/python3
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; exit 1; }

# A repo with a config, a tokenizer and a 300 KB "weights" file of random bytes.
repo="$work/hub/acme/tiny-model"
mkdir -p "$repo" "$work/hub/acme/gguf-repo"
echo '{"architectures": ["Qwen3ForCausalLM"]}' > "$repo/config.json"
echo '{"model": {}}' > "$repo/tokenizer.json"
echo 'ignored' > "$repo/README.md"
head -c 300000 /dev/urandom > "$repo/model.safetensors"
head -c 5000 /dev/urandom > "$work/hub/acme/gguf-repo/m-Q8_0.gguf"
head -c 4000 /dev/urandom > "$work/hub/acme/gguf-repo/m-Q4_K_M.gguf"

start_hub() {  # args: extra fake_hub flags
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -f "$work/port"
  $PY tests/hub/fake_hub.py --root "$work/hub" --port-file "$work/port" --log "$work/log" "$@" &
  server_pid=$!
  for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.05; done
  [ -f "$work/port" ] || die "fake hub did not start"
  export HF_ENDPOINT="http://127.0.0.1:$(cat "$work/port")"
}
export DRAGON_HOME="$work/home"
cache="$DRAGON_HOME/models/acme/tiny-model"

# 1. Interrupted after 100000 bytes, resumed in the same run with a Range request.
start_hub --interrupt-after 100000
: > "$work/log"
"$DRAGON" pull acme/tiny-model > "$work/out" 2> "$work/err" || { cat "$work/err"; die "pull failed"; }
cmp "$repo/model.safetensors" "$cache/model.safetensors" || die "weights differ after resumed pull"
cmp "$repo/config.json" "$cache/config.json" || die "config differs"
[ -f "$cache/tokenizer.json" ] || die "tokenizer.json not pulled"
[ ! -e "$cache/README.md" ] || die "README.md pulled though inference does not need it"
weights_sent=$($PY -c "import json,sys; print(sum(e['sent'] for e in map(json.loads, open(sys.argv[1])) if e['path'].endswith('.safetensors')))" "$work/log")
resume_start=$($PY -c "import json,sys; print(max(e['start'] for e in map(json.loads, open(sys.argv[1])) if e['path'].endswith('.safetensors')))" "$work/log")
echo "resumed pull: weights 300000 bytes, served $weights_sent bytes, second request from byte $resume_start"
[ "$weights_sent" = 300000 ] || die "bytes were fetched twice ($weights_sent served for a 300000-byte file)"
[ "$resume_start" = 100000 ] || die "resume did not start at the interrupted byte"
[ "$(cat "$work/out")" = "$cache" ] || die "pull printed '$(cat "$work/out")', expected $cache"

# 2. A second pull fetches nothing.
: > "$work/log"
"$DRAGON" pull acme/tiny-model > /dev/null 2>&1 || die "second pull failed"
[ ! -s "$work/log" ] || die "second pull downloaded again: $(cat "$work/log")"

# 3. A .part left by an earlier, killed run is continued, not restarted.
"$DRAGON" rm acme/tiny-model 2> /dev/null
mkdir -p "$cache"
head -c 120000 "$repo/model.safetensors" > "$cache/model.safetensors.part"
start_hub
: > "$work/log"
"$DRAGON" pull acme/tiny-model > /dev/null 2> "$work/err" || { cat "$work/err"; die "pull from .part failed"; }
cmp "$repo/model.safetensors" "$cache/model.safetensors" || die "weights differ after resuming a .part"
sent=$($PY -c "import json,sys; print(sum(e['sent'] for e in map(json.loads, open(sys.argv[1])) if e['path'].endswith('.safetensors')))" "$work/log")
echo "resume from an existing 120000-byte .part: served $sent bytes (expected 180000)"
[ "$sent" = 180000 ] || die "the .part was not resumed"

# 4. sha256 mismatch: an error, and neither the file nor its .part left behind.
"$DRAGON" rm acme/tiny-model 2> /dev/null
start_hub --bad-sha model.safetensors
if "$DRAGON" pull acme/tiny-model > /dev/null 2> "$work/err"; then die "pull with a wrong sha256 succeeded"; fi
grep -q "sha256 mismatch" "$work/err" || die "no sha256 error: $(cat "$work/err")"
[ ! -e "$cache/model.safetensors" ] && [ ! -e "$cache/model.safetensors.part" ] || die "corrupt download left in the cache"
echo "sha256 mismatch: $(grep -o 'sha256 mismatch[^;]*' "$work/err" | head -c 60)..."

# 5. GGUF repos: :FILE picks one file; without it the preferred quantization (Q4_K_M).
start_hub
"$DRAGON" pull acme/gguf-repo:m-Q8_0.gguf > "$work/out" 2> /dev/null || die "pull :FILE failed"
[ "$(cat "$work/out")" = "$DRAGON_HOME/models/acme/gguf-repo/m-Q8_0.gguf" ] || die "pull :FILE printed $(cat "$work/out")"
"$DRAGON" pull acme/gguf-repo > /dev/null 2>&1 || die "pull of a GGUF repo failed"
[ -f "$DRAGON_HOME/models/acme/gguf-repo/m-Q4_K_M.gguf" ] || die "the Q4_K_M GGUF was not chosen"
if "$DRAGON" pull acme/gguf-repo:nope.gguf > /dev/null 2> "$work/err"; then die "missing :FILE accepted"; fi
grep -q "no file 'nope.gguf'" "$work/err" || die "unclear missing-file error: $(cat "$work/err")"
if "$DRAGON" pull acme/missing > /dev/null 2> "$work/err"; then die "missing repo accepted"; fi
grep -q "not found" "$work/err" || die "unclear missing-repo error: $(cat "$work/err")"

# 5b. A gated hub: without a token, 401 and advice to set HF_TOKEN; with HF_TOKEN (or the token
#     file `huggingface-cli login` writes) the pull goes through, downloads included.
start_hub --token hf_secret
"$DRAGON" rm acme/gguf-repo 2> /dev/null || true
if HF_TOKEN= HF_HOME="$work/nohf" "$DRAGON" pull acme/gguf-repo > /dev/null 2> "$work/err"; then die "gated pull without a token succeeded"; fi
grep -q "HTTP 401" "$work/err" && grep -q "HF_TOKEN" "$work/err" || die "unclear gated error: $(cat "$work/err")"
echo "gated, no token: $(cat "$work/err")"
HF_TOKEN=hf_secret "$DRAGON" pull acme/gguf-repo:m-Q8_0.gguf > /dev/null 2> "$work/err" || { cat "$work/err"; die "gated pull with HF_TOKEN failed"; }
cmp "$work/hub/acme/gguf-repo/m-Q8_0.gguf" "$DRAGON_HOME/models/acme/gguf-repo/m-Q8_0.gguf" || die "gated download differs"
mkdir -p "$work/hfhome" && echo "hf_secret" > "$work/hfhome/token"
"$DRAGON" rm acme/gguf-repo 2> /dev/null
HF_TOKEN= HF_HOME="$work/hfhome" "$DRAGON" pull acme/gguf-repo:m-Q8_0.gguf > /dev/null 2> "$work/err" || { cat "$work/err"; die "gated pull with the token file failed"; }
echo "gated: HF_TOKEN and \$HF_HOME/token both accepted"

# 6. Offline: a closed port gives an error that says what to do.
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
if "$DRAGON" pull acme/tiny-model > /dev/null 2> "$work/err"; then die "pull succeeded with the hub down"; fi
grep -q "cannot reach 127.0.0.1" "$work/err" && grep -q "HF_ENDPOINT" "$work/err" || die "unclear offline error: $(cat "$work/err")"
echo "offline: $(cat "$work/err")"

# 7. Names that could leave the cache are rejected before any request.
for bad in "../etc" "acme/../../x" "/abs/path" "acme/a/b" "acme" "acme/x y" "acme/.hidden" "acme/ok:../../f"; do
  if "$DRAGON" pull "$bad" > /dev/null 2> "$work/err"; then die "bad name '$bad' accepted"; fi
  grep -q "model name" "$work/err" || die "bad name '$bad': unclear error: $(cat "$work/err")"
done
echo "bad names rejected: 8 of 8"

# 8. ls shows the cached models and sizes; rm removes one.
"$DRAGON" ls > "$work/ls"
cat "$work/ls"
grep -q "^acme/gguf-repo " "$work/ls" || die "ls does not list acme/gguf-repo"
"$DRAGON" rm acme/gguf-repo 2> /dev/null
[ ! -e "$DRAGON_HOME/models/acme/gguf-repo" ] || die "rm left the model"
if "$DRAGON" rm acme/gguf-repo 2> "$work/err"; then die "rm of a missing model succeeded"; fi
grep -q "not in the cache" "$work/err" || die "unclear rm error"
echo "PASS pull e2e"
