#!/usr/bin/env bash
# Qwen3.5 forward parity, dense (qwen35) and MoE (qwen35moe): dragon on small synthetic
# qwen3.5-27b and qwen3.5-35b-a3b models (Qwen3's vocabulary size) — 4 layers (3 Gated DeltaNet, 1 gated attention), the
# real head_dim 256 (rotary 64), linear head dims 128 and conv kernel 4; the dense one with 2 k /
# 6 v linear heads (3 v heads per k head, so llama.cpp's converter really reorders the v heads
# from grouped to tiled), the MoE one with 2 k / 4 v heads, 16 experts top-4 and a shared expert —
# against the two oracles:
#   GGUF F32 vs llama_oracle (F32 KV):   rel RMSE <= 1e-3, argmax equal at every position
#   greedy generation (12 tokens, F32):  identical to llama_oracle --generate
#   HF F32 (multimodal layout: model.language_model.*, text_config) vs the PyTorch reference
#   (float64, families/qwen3_5.py, HF's grouped v heads): rel RMSE <= 1e-4
#   the dense HF directory with a real download's vision / MTP tensors added: the same logits;
#   with a stray text tensor: a one-line error
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS="${QWEN35_PARITY_TOKENS:-40}"  # > 32: the prompt spans two of dragon's delta-rule chunks
THREADS_DRAGON="${DRAGON_THREADS:-2}"

ensure_oracle
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
start=$(date +%s.%N)
layers=4
tokens=$(prompt_tokens "$N_TOKENS" 100000)
prompt=$(prompt_tokens 8 100000)

run_variant() {  # run_variant PRESET --set ...
  local preset=$1; shift
  local dir="$work/$preset"
  mkdir -p "$dir"
  echo "== $preset ($layers layers): $N_TOKENS positions =="
  "$DRAGON" synth "$preset" --format hf --dtype f32 --layers "$layers" --seed 29 "$@" --out "$dir/hf" >/dev/null
  "$DRAGON" synth "$preset" --format gguf --dtype f32 --layers "$layers" --seed 29 "$@" --out "$dir/f32.gguf" >/dev/null
  local vocab
  vocab=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["text_config"]["vocab_size"])' "$dir/hf/config.json")

  "$ORACLE" --model "$dir/f32.gguf" --tokens "$tokens" --out "$dir/llama.f32" --threads "$THREADS" 2>/dev/null
  local t0
  t0=$(date +%s.%N)
  "$DRAGON" logits --model "$dir/f32.gguf" --tokens "$tokens" --out "$dir/dragon.f32" --kv-type f32 \
    --threads "$THREADS_DRAGON" 2>/dev/null
  echo "dragon logits f32: $(echo "$(date +%s.%N) - $t0" | bc) s"
  check $CMP "$dir/dragon.f32" "$dir/llama.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$preset GGUF F32 dragon vs llama.cpp" --max-rel-rmse 1e-3

  local expected got
  expected=$("$ORACLE" --model "$dir/f32.gguf" --tokens "$prompt" --generate 12 --threads "$THREADS" 2>/dev/null | tail -1)
  got=$("$DRAGON" generate --model "$dir/f32.gguf" --tokens "$prompt" -n 12 --kv-type f32 --threads "$THREADS_DRAGON" 2>/dev/null)
  if [ -n "$got" ] && [ "$got" = "$expected" ]; then echo "PASS $preset generate: 12/12 tokens identical to llama.cpp ($got)"
  else echo "FAIL $preset generate"; echo "  dragon: $got"; echo "  llama:  $expected"; failed+=("$preset generate"); fi

  "$PY" tests/reference/reference_logits.py --model "$dir/hf" --tokens "$tokens" --out "$dir/ref.f32" \
    --dtype float64 --threads 1 2>/dev/null
  "$DRAGON" logits --model "$dir/hf" --tokens "$tokens" --out "$dir/dragon-hf.f32" --kv-type f32 \
    --threads "$THREADS_DRAGON" 2>/dev/null
  check $CMP "$dir/dragon-hf.f32" "$dir/ref.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$preset HF F32 dragon vs PyTorch (HF's grouped v heads)" --max-rel-rmse 1e-4
  if [ "$preset" = qwen3.5-27b ]; then check real_download_layout "$dir" "$vocab"; fi
  rm -rf "$dir"
}

# A real download also holds the vision tower and the MTP block: dragon skips them (the same
# logits), but a tensor the text model does not have is still a clear error.
real_download_layout() {  # real_download_layout DIR VOCAB
  local dir=$1 vocab=$2 err
  "$PY" tests/parity/add_hf_tensors.py "$dir/hf" model.visual.patch_embed.proj.weight,mtp.fc.weight,mtp.norm.weight
  "$DRAGON" logits --model "$dir/hf" --tokens "$tokens" --out "$dir/dragon-full.f32" --kv-type f32 \
    --threads "$THREADS_DRAGON" 2>/dev/null || { echo "FAIL dragon cannot load the HF directory with vision / MTP tensors"; return 1; }
  $CMP "$dir/dragon-full.f32" "$dir/dragon-hf.f32" --tokens "$N_TOKENS" --vocab "$vocab" \
    --label "$preset HF with vision + MTP tensors vs without" --max-rel-rmse 1e-7 || return 1
  "$PY" tests/parity/add_hf_tensors.py "$dir/hf" model.language_model.layers.0.mlp.stray.weight
  if err=$("$DRAGON" logits --model "$dir/hf" --tokens 1,2 --out "$dir/x.f32" 2>&1); then
    echo "FAIL a stray text tensor was accepted"; return 1
  fi
  case "$err" in
    "dragon: error: "*"unexpected tensor model.language_model.layers.0.mlp.stray.weight"*)
      echo "PASS stray text tensor refused: $err" ;;
    *) echo "FAIL unexpected error for a stray tensor: $err"; return 1 ;;
  esac
}

# Qwen3's vocabulary size (the synthetic models carry its tokenizer): 40% fewer embedding and
# output rows than the release's 248320 to write, load and multiply, to keep the script quick.
small_vocab=(--set text_config.vocab_size=151936 --set text_config.eos_token_id=151645)
run_variant qwen3.5-27b "${small_vocab[@]}" --set text_config.hidden_size=64 --set text_config.intermediate_size=128 \
  --set text_config.num_attention_heads=6 --set text_config.num_key_value_heads=1 \
  --set text_config.linear_num_key_heads=2 --set text_config.linear_num_value_heads=6
run_variant qwen3.5-35b-a3b "${small_vocab[@]}" --set text_config.hidden_size=64 --set text_config.num_attention_heads=4 \
  --set text_config.num_key_value_heads=1 --set text_config.linear_num_key_heads=2 \
  --set text_config.linear_num_value_heads=4 --set text_config.num_experts=16 \
  --set text_config.num_experts_per_tok=4 --set text_config.moe_intermediate_size=32 \
  --set text_config.shared_expert_intermediate_size=32
echo "Qwen3.5 parity: $(echo "$(date +%s.%N) - $start" | bc) s"

if ((${#failed[@]})); then
  echo "FAIL Qwen3.5 parity: ${#failed[@]} check(s) failed"; exit 1
fi
echo "PASS Qwen3.5 parity"
