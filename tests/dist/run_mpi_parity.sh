#!/usr/bin/env bash
# Scale-out parity (issue 13): one model split over processes under Open MPI gives the
# single-process answer. On small synthetic F32 GGUFs of 4 layers — a dense Qwen3, a Qwen3-MoE, a
# DeepSeek-V2-Lite (MLA attention, a dense first layer, shared experts), a Qwen2.5 (the llama
# block), a GLM-4.5-Air (MoE with its MTP layer in the file), and one of each other family with a
# forward pass: GLM-4 (sandwich norms), ERNIE-4.5 (llama block), Baichuan 2 (W_pack), DeepSeek-MoE
# (llama MoE block), Hunyuan-A13B, MiniMax-M2 and Hy3 (MTP layer in the file):
#   mpirun -np 2 / -np 4 over shared memory: --pp 2 and --pp 4 (Qwen3), --ep 2 and --pp 2 --ep 2
#   (Qwen3-MoE), --pp 2 --ep 2 (DeepSeek-V2-Lite, GLM-4.5-Air, Hy3), --pp 2 (the others)
#   dragon logits:   relative RMSE <= 1e-6 against the single-process run, argmax equal
#   dragon generate: greedy ids identical to the single-process run
# and a rank that fails (DRAGON_TEST_FAIL_RANK) or is killed (DRAGON_TEST_KILL_RANK) ends the
# job within the timeout with a message naming the rank, instead of leaving the others waiting.
# Prints every measured figure. Runs from the repo root; binaries from ${DRAGON_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/oracle/oracle_common.sh
DRAGON="$BUILD/dragon"
CMP="$PY tests/parity/dense_compare.py"
N_TOKENS=24
N_GENERATE=12
FAIL_TIMEOUT=30  # seconds a failed job may take to end; a hang is a failure

if ! command -v mpirun >/dev/null; then echo "FAIL: mpirun not found (scripts/setup.sh installs openmpi-bin)"; exit 1; fi
if ! synth_available; then echo "FAIL: $DRAGON synth is not available"; exit 1; fi
# Root in CI containers, one machine: shared memory between the ranks (no CMA, which containers
# often forbid), no core binding, more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPI_FLAGS=(--oversubscribe --bind-to none --mca pml ob1 --mca btl "${DRAGON_MPI_BTL:-self,vader}"
           --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1)
mpi() { local np=$1; shift; mpirun "${MPI_FLAGS[@]}" -np "$np" "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
check() { "$@" || failed+=("$*"); }
declare -A VOCAB=([dense]=151936 [moe]=151936 [mla]=102400 [llama]=151936 [glm]=151552 [glm4]=151552
                  [ernie]=103424 [baichuan]=125696 [dsmoe]=102400 [hunyuan]=128167 [minimax]=200064 [hy3]=120832)
small="--set hidden_size=64 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32"
"$DRAGON" synth qwen3-0.6b --format gguf --dtype f32 --layers 4 --seed 11 $small --set intermediate_size=128 \
  --out "$work/dense.gguf" >/dev/null
"$DRAGON" synth qwen3-30b-a3b --format gguf --dtype f32 --layers 4 --seed 12 $small --set intermediate_size=128 \
  --set moe_intermediate_size=32 --set num_experts=8 --set num_experts_per_tok=2 --out "$work/moe.gguf" >/dev/null
"$DRAGON" synth deepseek-v2-lite --format gguf --dtype f32 --layers 4 --seed 13 --set hidden_size=64 \
  --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128 --set moe_intermediate_size=32 \
  --set n_routed_experts=8 --set num_experts_per_tok=2 --out "$work/mla.gguf" >/dev/null
"$DRAGON" synth qwen2.5-0.5b --format gguf --dtype f32 --layers 4 --seed 14 --set hidden_size=64 \
  --set num_attention_heads=4 --set num_key_value_heads=2 --set intermediate_size=128 --out "$work/llama.gguf" >/dev/null
"$DRAGON" synth glm-4.5-air --format gguf --dtype f32 --layers 4 --seed 15 --set hidden_size=64 \
  --set num_attention_heads=12 --set num_key_value_heads=1 --set intermediate_size=128 --set moe_intermediate_size=32 \
  --set n_routed_experts=8 --set num_experts_per_tok=2 --out "$work/glm.gguf" >/dev/null
# The other families: 4 layers, a few experts, top-2.
"$DRAGON" synth glm-4-9b --format gguf --dtype f32 --layers 4 --seed 16 --set hidden_size=128 \
  --set num_attention_heads=16 --set num_key_value_heads=1 --set head_dim=16 --set intermediate_size=128 \
  --out "$work/glm4.gguf" >/dev/null
"$DRAGON" synth ernie-4.5-0.3b --format gguf --dtype f32 --layers 4 --seed 17 --set hidden_size=64 \
  --set num_attention_heads=8 --set num_key_value_heads=1 --set head_dim=16 --set intermediate_size=128 \
  --out "$work/ernie.gguf" >/dev/null
"$DRAGON" synth baichuan2-7b --format gguf --dtype f32 --layers 4 --seed 18 --set hidden_size=64 \
  --set num_attention_heads=4 --set intermediate_size=64 --out "$work/baichuan.gguf" >/dev/null
"$DRAGON" synth deepseek-moe-16b --format gguf --dtype f32 --layers 4 --seed 19 --set hidden_size=64 \
  --set num_attention_heads=2 --set num_key_value_heads=2 --set intermediate_size=128 --set moe_intermediate_size=32 \
  --set n_routed_experts=8 --set num_experts_per_tok=2 --out "$work/dsmoe.gguf" >/dev/null
"$DRAGON" synth hunyuan-a13b --format gguf --dtype f32 --layers 4 --seed 20 --set hidden_size=64 \
  --set num_attention_heads=4 --set num_key_value_heads=1 --set intermediate_size=32 \
  --set moe_intermediate_size=[32,32,32,32] --set num_experts=8 --set moe_topk=[2,2,2,2] --out "$work/hunyuan.gguf" >/dev/null
"$DRAGON" synth minimax-m2 --format gguf --dtype f32 --layers 4 --seed 21 --set hidden_size=64 \
  --set num_attention_heads=6 --set num_key_value_heads=1 --set intermediate_size=32 --set num_local_experts=8 \
  --set num_experts_per_tok=2 --out "$work/minimax.gguf" >/dev/null
"$DRAGON" synth hy3-preview --format gguf --dtype f32 --layers 4 --seed 22 --set hidden_size=64 \
  --set num_attention_heads=8 --set num_key_value_heads=1 --set intermediate_size=96 --set num_experts=8 \
  --set num_experts_per_tok=2 --set moe_intermediate_size=32 --set expert_hidden_dim=32 --out "$work/hy3.gguf" >/dev/null
tokens_of() { prompt_tokens "$1" $((VOCAB[$2] - 300)); }  # below the special tokens

elapsed() { echo "$(date +%s.%N) - $1" | bc; }

# parity MODEL NAME NP FLAGS...: logits and greedy ids of the split run against the single run.
parity() {
  local model=$1 name=$2 np=$3; shift 3
  local t0 tokens prompt; t0=$(date +%s.%N)
  tokens=$(tokens_of $N_TOKENS $model); prompt=$(tokens_of 8 $model)
  mpi "$np" "$DRAGON" logits --model "$work/$model.gguf" --tokens "$tokens" --kv-type f32 "$@" \
    --out "$work/$model-$name.f32" 2>"$work/err" || { cat "$work/err"; failed+=("$model $name logits: exit"); return; }
  echo "$model $name: mpirun -np $np logits $(elapsed "$t0") s"
  # Each rank says what it holds: np lines, no two ranks holding the same layers and experts.
  grep "^dragon: rank " "$work/err" | sort | sed 's/^/  /'
  local parts; parts=$(grep "^dragon: rank " "$work/err" | sed 's/.*: stage //' | sort -u | wc -l)
  if [ "$parts" -ne "$np" ]; then echo "FAIL $model $name: $parts distinct parts over $np ranks"; failed+=("$model $name split"); fi
  check $CMP "$work/$model-$name.f32" "$work/$model-single.f32" --tokens $N_TOKENS --vocab "${VOCAB[$model]}" \
    --label "$model $name (-np $np) vs one process" --max-rel-rmse 1e-6
  local got
  got=$(mpi "$np" "$DRAGON" generate --model "$work/$model.gguf" --tokens "$prompt" -n $N_GENERATE --kv-type f32 "$@" \
    2>"$work/err") || { cat "$work/err"; failed+=("$model $name generate: exit"); return; }
  local expected; expected=$(cat "$work/$model-single.ids")
  if [ "$got" = "$expected" ]; then
    echo "PASS $model $name generate: $N_GENERATE greedy ids identical ($got)"
  else
    echo "FAIL $model $name generate: $got"; echo "  one process: $expected"; failed+=("$model $name generate")
  fi
}

for model in dense moe mla llama glm glm4 ernie baichuan dsmoe hunyuan minimax hy3; do
  echo "== $model: one process =="
  tokens=$(tokens_of $N_TOKENS $model); prompt=$(tokens_of 8 $model)
  "$DRAGON" logits --model "$work/$model.gguf" --tokens "$tokens" --kv-type f32 --out "$work/$model-single.f32" 2>/dev/null
  "$DRAGON" generate --model "$work/$model.gguf" --tokens "$prompt" -n $N_GENERATE --kv-type f32 2>/dev/null \
    >"$work/$model-single.ids"
  echo "$model one process: $(cat "$work/$model-single.ids")"
done
echo "== split over ranks =="
parity dense pp2 2 --pp 2
parity dense pp4 4 --pp 4
parity mla pp2-ep2 4 --pp 2 --ep 2
parity llama pp2 2 --pp 2
parity glm pp2-ep2 4 --pp 2 --ep 2
parity moe ep2 2 --ep 2
parity moe pp2-ep2 4 --pp 2 --ep 2
parity glm4 pp2 2 --pp 2
parity ernie pp2 2 --pp 2
parity baichuan pp2 2 --pp 2
parity dsmoe pp2 2 --pp 2
parity hunyuan pp2 2 --pp 2
parity minimax pp2 2 --pp 2
parity hy3 pp2-ep2 4 --pp 2 --ep 2

echo "== a rank that fails or dies ends the job, naming the rank =="
tokens=$(tokens_of $N_TOKENS moe)
# fails NAME ENV EXPECTED_TEXT NP FLAGS...: the job must exit non-zero within FAIL_TIMEOUT s,
# saying EXPECTED_TEXT.
fails() {
  local name=$1 env=$2 want=$3 np=$4 t0 rc=0; shift 4; t0=$(date +%s.%N)
  env "$env" timeout $FAIL_TIMEOUT mpirun "${MPI_FLAGS[@]}" -np "$np" "$DRAGON" logits --model "$work/moe.gguf" \
    --tokens "$tokens" "$@" --out "$work/fail.f32" >"$work/out" 2>&1 || rc=$?
  local took; took=$(elapsed "$t0")
  if [ $rc -eq 124 ]; then echo "FAIL $name: still running after $FAIL_TIMEOUT s (hang)"; failed+=("$name hang")
  elif [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; failed+=("$name exit 0")
  elif ! grep -q "$want" "$work/out"; then
    echo "FAIL $name: exit $rc in $took s without \"$want\":"; sed 's/^/  /' "$work/out" | head -20; failed+=("$name message")
  else echo "PASS $name: exit $rc in $took s: $(grep -m1 "$want" "$work/out")"; fi
}
fails "rank 1 error" DRAGON_TEST_FAIL_RANK=1 "dragon: error: rank 1:" 4 --pp 2 --ep 2
fails "rank 1 killed" DRAGON_TEST_KILL_RANK=1 "process rank 1 with PID" 4 --pp 2 --ep 2
# A launch whose rank count is not --pp x --ep is refused.
fails "wrong -np" DRAGON_TEST_NONE=1 "but --pp 2 x --ep 1 = 2" 4 --pp 2

if ((${#failed[@]})); then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all MPI parity checks passed"
