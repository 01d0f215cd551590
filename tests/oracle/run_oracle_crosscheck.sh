#!/usr/bin/env bash
# Cross-check of the two oracles on the same synthetic models: llama.cpp (llama_oracle) on the GGUF
# form vs the PyTorch reference (tests/reference, float64) on the HF form. Passes if, for every
# model, the relative RMSE of the logits is <= 1e-3 and the argmax agrees at every position
# (f32 weights, f32 KV cache). Since the GGUF and HF forms come from dragon's two writers (or from
# the independent make_tiny_qwen3.py), agreement also verifies dragon's HF -> GGUF mapping.
#
#   tests/oracle/run_oracle_crosscheck.sh [MODEL...]     (default: $ORACLE_PRESETS or the list below)
#
# A MODEL is a `dragon synth` preset name (small widths from preset_sets in oracle_common.sh,
# depth from preset_layers), PRESET@LAYERS for another depth (baichuan2-7b@40 is Baichuan 2 13B's
# ALiBi, which both llama.cpp and the reference choose by the 40 layers), or "tiny-qwen3" for
# make_tiny_qwen3.py. Later families: add their preset to DEFAULT_MODELS and their widths to
# preset_sets.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh

DEFAULT_MODELS="tiny-qwen3 qwen3-0.6b qwen2.5-0.5b qwen2.5-7b deepseek-llm-7b yi-6b glm-4-9b ernie-4.5-0.3b"
DEFAULT_MODELS+=" baichuan2-7b baichuan2-7b@40"
if (($#)); then models=("$@"); else read -r -a models <<<"${ORACLE_PRESETS:-$DEFAULT_MODELS}"; fi
N_TOKENS=48
MAX_REL_RMSE=1e-3

ensure_oracle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
checked=0
seed=21
for model in "${models[@]}"; do
  seed=$((seed + 1))
  dir="$work/$model"
  mkdir -p "$dir"
  echo "== $model =="
  if [ "$model" = tiny-qwen3 ]; then
    "$PY" tests/oracle/make_tiny_qwen3.py --out "$dir" --seed "$seed"
  elif synth_available; then
    preset=${model%@*} layers=""
    [[ "$model" == *@* ]] && layers=${model#*@}
    synth_model "$preset" gguf "$dir/model.gguf" "$seed" $layers && synth_model "$preset" hf "$dir/hf" "$seed" $layers \
      || { failed+=("$model (synth)"); continue; }
  else
    echo "SKIP $model: dragon synth is not available yet"
    continue
  fi
  vocab=$(hf_vocab_size "$dir/hf")
  tokens=$(prompt_tokens $N_TOKENS "$((vocab < 151643 ? vocab : 151643))")
  t0=$(date +%s.%N)
  "$ORACLE" --model "$dir/model.gguf" --tokens "$tokens" --out "$dir/llama.f32" --threads "$THREADS" \
    || { failed+=("$model (llama_oracle)"); continue; }
  t1=$(date +%s.%N)
  "$PY" tests/reference/reference_logits.py --model "$dir/hf" --tokens "$tokens" --out "$dir/ref.f32" \
    --dtype float64 || { failed+=("$model (reference)"); continue; }
  t2=$(date +%s.%N)
  echo "llama_oracle $(echo "$t1 - $t0" | bc) s, reference $(echo "$t2 - $t1" | bc) s"
  checked=$((checked + 1))
  "$PY" tests/oracle/logits_check.py compare "$dir/llama.f32" "$dir/ref.f32" --tokens $N_TOKENS \
    --vocab "$vocab" --max-rel-rmse $MAX_REL_RMSE --label "$model llama.cpp vs PyTorch" \
    || failed+=("$model")
  rm -rf "$dir"  # a few hundred MB per model otherwise
done

echo "cross-checked $checked model(s), ${#failed[@]} failed"
for f in "${failed[@]}"; do echo "FAILED: $f"; done
((${#failed[@]} == 0 && checked > 0))
