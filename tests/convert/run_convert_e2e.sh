#!/usr/bin/env bash
# dragon convert HF_DIR --out F.gguf --type T, end to end on synthetic models:
#  1. Qwen3 (2 layers, small widths, F32 safetensors) -> GGUF F32: dragon's logits on the GGUF
#     equal its logits on the HF directory (rel RMSE <= 1e-6); llama.cpp (llama_oracle) loads
#     the GGUF and its logits match dragon's (rel RMSE <= 1e-3); the file holds the same tensors
#     and metadata (tokenizer, pre-tokenizer "qwen2" detected from tokenizer.json, chat template)
#     as `dragon synth --format gguf` writes for the same seed.
#  2. DeepSeek-V3 shape (MLA + MoE, 2 layers) from FP8 block-scaled safetensors -> GGUF F32: the
#     first two checks, and the pre-tokenizer "deepseek-v3" and the chat template in the file.
#  3. q4_k_m on a 4-layer Qwen3 (rows of 64 and 256: real k-quants and fallbacks): every tensor
#     has the type llama.cpp's rules give (recomputed here from llama-quant.cpp), llama.cpp
#     loads it and its logits match dragon's (rel RMSE <= 1e-3, same argmax).
#  4. Bad input: no config.json, an unknown architecture, a truncated safetensors file, no
#     tokenizer.json, an unknown --type: exit 1 with one "dragon: error:" line naming the cause.
#  5. The progress bar is drawn on a terminal (through `script`) and not into a pipe; the Q8_0
#     file written there loads in llama.cpp (logits within 5e-2: activation rounding differs).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
[ -x "$DRAGON" ] || { echo "FAIL: $DRAGON not built"; exit 1; }
ensure_oracle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
N=12
compare() {  # compare TEST REF VOCAB BOUND LABEL
  "$PY" tests/oracle/logits_check.py compare "$1" "$2" --tokens $N --vocab "$3" --max-rel-rmse "$4" --label "$5" ||
    failed+=("$5")
}
# gguf_quick.py, not gguf-py: GGUFReader takes ~30 s per 150k-token file on a loaded machine.
same_gguf() {  # same_gguf A B LABEL: tensors (type + bytes) and metadata equal, but general.name/source
  "$PY" - "$1" "$2" "$3" <<'PY' || failed+=("$3")
import sys
sys.path.insert(0, "tests/convert")
from gguf_quick import read_gguf
a, b, label = read_gguf(sys.argv[1]), read_gguf(sys.argv[2]), sys.argv[3]
skip = {"general.name", "general.source.huggingface.repository", "general.description"}
keys = sorted((set(a.kv) | set(b.kv)) - skip)
bad_keys = [k for k in keys if a.kv.get(k) != b.kv.get(k)]
tb = {t[0]: t for t in b.tensors}
bad_tensors = [t[0] for t in a.tensors if tb.get(t[0]) != t]
print(f"{label}: {len(a.tensors)} tensors, {len(bad_tensors)} differ; {len(keys)} metadata keys, "
      f"{len(bad_keys)} differ; tokenizer.ggml.pre = {a.string('tokenizer.ggml.pre')}")
if bad_keys or bad_tensors or len(a.tensors) != len(b.tensors):
    print("FAIL", label, bad_keys[:5], bad_tensors[:5]); sys.exit(1)
PY
}

# -- 1 + 2: F32 conversions checked three ways ------------------------------------------------
qwen_sets="--set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32"
dsv3_sets="--set hidden_size=64 --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128 --set moe_intermediate_size=32 --set n_routed_experts=16 --set n_group=4 --set topk_group=2 --set num_experts_per_tok=4 --set q_lora_rank=64 --set first_k_dense_replace=1"
for case in "qwen3-0.6b f32 $qwen_sets" "deepseek-v3 fp8 $dsv3_sets"; do
  read -r preset dtype sets <<<"$case"
  echo "== $preset: HF ${dtype^^} -> GGUF F32 ($SECONDS s so far) =="
  # shellcheck disable=SC2086
  "$DRAGON" synth "$preset" --format hf --dtype "$dtype" --layers 2 --seed 7 $sets --out "$work/$preset-hf" >/dev/null
  # shellcheck disable=SC2086
  [ "$dtype" = f32 ] && "$DRAGON" synth "$preset" --format gguf --dtype f32 --layers 2 --seed 7 $sets --out "$work/$preset-synth.gguf" >/dev/null
  start=$(date +%s.%N)
  "$DRAGON" convert "$work/$preset-hf" --out "$work/$preset.gguf" --type f32 2>"$work/convert.err" ||
    { cat "$work/convert.err"; failed+=("$preset convert"); continue; }
  echo "  $(tail -1 "$work/convert.err") in $(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)") s"
  vocab=$(hf_vocab_size "$work/$preset-hf")
  tokens=$(prompt_tokens $N "$vocab")
  "$DRAGON" logits --model "$work/$preset-hf" --tokens "$tokens" --out "$work/hf.f32" --kv-type f32
  "$DRAGON" logits --model "$work/$preset.gguf" --tokens "$tokens" --out "$work/gguf.f32" --kv-type f32
  "$ORACLE" --model "$work/$preset.gguf" --tokens "$tokens" --out "$work/oracle.f32" --threads "$THREADS" >/dev/null
  compare "$work/gguf.f32" "$work/hf.f32" "$vocab" 1e-6 "$preset dragon on converted GGUF vs dragon on HF"
  compare "$work/gguf.f32" "$work/oracle.f32" "$vocab" 1e-3 "$preset dragon vs llama.cpp on converted GGUF"
  if [ "$dtype" = f32 ]; then
    same_gguf "$work/$preset.gguf" "$work/$preset-synth.gguf" "$preset converted vs synth --format gguf"
  else
    # FP8 weights were rounded (not the bytes of the F32 synth): the pre-tokenizer detected from
    # DeepSeek-V3's tokenizer.json.
    "$PY" - "$work/$preset.gguf" <<'PY' || failed+=("$preset tokenizer")
import sys
sys.path.insert(0, "tests/convert")
from gguf_quick import read_gguf
r = read_gguf(sys.argv[1])
pre = r.string("tokenizer.ggml.pre")
print(f"FP8 source: {len(r.tensors)} tensors, {r.array_len('tokenizer.ggml.tokens')} tokens, tokenizer.ggml.pre = {pre}, "
      f"chat template {'present' if 'tokenizer.chat_template' in r.kv else 'MISSING'}")
sys.exit(0 if pre == "deepseek-v3" and "tokenizer.chat_template" in r.kv else 1)
PY
  fi
done

# -- 3: q4_k_m -------------------------------------------------------------------------------
# Rows of 64 (hidden) make llama.cpp's fallbacks happen (Q4_K -> Q5_0, Q6_K -> Q8_0, the head
# Q8_0); rows of 256 (attn_output: 4 heads x 64, ffn_down: intermediate 256) take real Q4_K / Q6_K.
echo "== qwen3-0.6b 4 layers: HF F32 -> GGUF Q4_K_M ($SECONDS s so far) =="
"$DRAGON" synth qwen3-0.6b --format hf --dtype f32 --layers 4 --seed 9 --set hidden_size=64 --set intermediate_size=256 \
  --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=64 --out "$work/q-hf" >/dev/null
"$DRAGON" convert "$work/q-hf" --out "$work/q4km.gguf" --type q4_k_m 2>"$work/convert.err" ||
  { cat "$work/convert.err"; failed+=("q4_k_m convert"); }
echo "  $(tail -1 "$work/convert.err")"
"$PY" - "$work/q4km.gguf" <<'PY' || failed+=("q4_k_m type mix")
import sys
sys.path.insert(0, "tests/convert")
from gguf_quick import read_gguf, GGML
names = {v: k for k, v in GGML.items()}
r = read_gguf(sys.argv[1])
n_layer = 4
more = lambda i, n: i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2   # llama-quant.cpp use_more_bits
fallback = {"Q4_K": "Q5_0", "Q6_K": "Q8_0"}                                  # tensor_type_fallback
tied = not any(t[0] == "output.weight" for t in r.tensors)
bad, counts = [], {}
for name, ggml_type, ne, _ in r.tensors:
    cols, got = ne[0], names.get(ggml_type, str(ggml_type))   # ne[0]: the row length
    if len(ne) < 2 or "_norm" in name:
        want = "F32"
    elif name == "output.weight" or (tied and name == "token_embd.weight"):
        want = "Q6_K" if cols % 256 == 0 else "Q8_0"
    else:
        want = "Q4_K"
        if "attn_v.weight" in name or "ffn_down" in name:
            want = "Q6_K" if more(int(name.split(".")[1]), n_layer) else "Q4_K"
        if cols % 256:
            want = fallback[want]
    counts[got] = counts.get(got, 0) + 1
    if got != want:
        bad.append(f"{name}: {got}, want {want}")
ftype = r.u32("general.file_type")
print(f"q4_k_m types: {counts}; {len(bad)} tensors off llama.cpp's rules; general.file_type {ftype} (want 15)")
if bad or ftype != 15 or not {"Q4_K", "Q6_K", "Q5_0", "Q8_0"} <= set(counts):
    print("FAIL", bad[:6]); sys.exit(1)
PY
vocab=$(hf_vocab_size "$work/q-hf")
tokens=$(prompt_tokens $N "$vocab")
"$DRAGON" logits --model "$work/q4km.gguf" --tokens "$tokens" --out "$work/q.f32" --kv-type f32
"$ORACLE" --model "$work/q4km.gguf" --tokens "$tokens" --out "$work/q-oracle.f32" --threads "$THREADS" >/dev/null
compare "$work/q.f32" "$work/q-oracle.f32" "$vocab" 1e-3 "q4_k_m dragon vs llama.cpp"

# -- 4: bad input ----------------------------------------------------------------------------
echo "== bad input ($SECONDS s so far) =="
expect_error() {  # expect_error LABEL PATTERN ARGS...
  local label=$1 pattern=$2 code
  shift 2
  set +e
  "$DRAGON" "$@" >/dev/null 2>"$work/err"
  code=$?
  set -e
  if [ "$code" = 1 ] && grep -q "^dragon: error: .*$pattern" "$work/err" && [ "$(wc -l <"$work/err")" -le 2 ]; then
    echo "  $label: exit 1: $(head -1 "$work/err")"
  else
    echo "FAIL $label: exit $code: $(cat "$work/err")"; failed+=("$label")
  fi
}
mkdir -p "$work/empty"
expect_error "no config.json" "config.json" convert "$work/empty" --out "$work/x.gguf"
copy_hf() {  # copy_hf NAME: the qwen3 HF directory, weights as symlinks (quick)
  mkdir -p "$work/$1"
  for f in "$work"/qwen3-0.6b-hf/*; do ln -s "$f" "$work/$1/"; done
  rm "$work/$1/config.json" && cp "$work/qwen3-0.6b-hf/config.json" "$work/$1/"
}
copy_hf foo
"$PY" - "$work/foo/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["architectures"] = ["FooForCausalLM"]; c["model_type"] = "foo"
json.dump(c, open(sys.argv[1], "w"))
PY
expect_error "unknown architecture" "FooForCausalLM" convert "$work/foo" --out "$work/x.gguf"
copy_hf trunc
st=$(ls "$work"/trunc/*.safetensors | head -1)
rm "$st" && head -c $(( $(stat -L -c %s "$work/qwen3-0.6b-hf/$(basename "$st")") / 2 )) "$work/qwen3-0.6b-hf/$(basename "$st")" >"$st"
expect_error "truncated safetensors" "safetensors" convert "$work/trunc" --out "$work/x.gguf"
copy_hf notok && rm "$work/notok/tokenizer.json"
expect_error "no tokenizer.json" "tokenizer.json" convert "$work/notok" --out "$work/x.gguf"
expect_error "unknown --type" "q3_xx" convert "$work/qwen3-0.6b-hf" --out "$work/x.gguf" --type q3_xx
[ ! -e "$work/x.gguf" ] || { echo "FAIL a failed convert left $work/x.gguf"; failed+=("leftover"); }

# -- 5: progress bar only on a terminal -------------------------------------------------------
script -qec "$DRAGON convert $work/qwen3-0.6b-hf --out $work/tty.gguf --type q8_0" /dev/null >"$work/tty.out" 2>&1 || true
# $work/convert.err: the q4_k_m conversion's stderr, a file.
if grep -q "100%" "$work/tty.out" && ! grep -q $'\r' "$work/convert.err"; then
  echo "progress bar: drawn on a terminal ($(grep -o '\[[#.]*\] 100%' "$work/tty.out" | tail -1)), not into a pipe"
else
  echo "FAIL progress bar: tty output $(tr '\r' '\n' <"$work/tty.out" | tail -2)"; failed+=("progress bar")
fi

# The Q8_0 file the terminal run wrote loads in llama.cpp too. Both engines round activations to
# 8 bits for Q8_0 weights, but not identically (dragon's own scheme): a looser bound, same argmax.
vocab=$(hf_vocab_size "$work/qwen3-0.6b-hf")
tokens=$(prompt_tokens $N "$vocab")
"$DRAGON" logits --model "$work/tty.gguf" --tokens "$tokens" --out "$work/q8.f32" --kv-type f32 >/dev/null
"$ORACLE" --model "$work/tty.gguf" --tokens "$tokens" --out "$work/q8-oracle.f32" --threads "$THREADS" >/dev/null
compare "$work/q8.f32" "$work/q8-oracle.f32" "$vocab" 5e-2 "q8_0 dragon vs llama.cpp"

if [ ${#failed[@]} -gt 0 ]; then echo "FAIL convert e2e: ${failed[*]}"; exit 1; fi
echo "PASS convert e2e ($SECONDS s)"
