# Shared by tests/oracle/run_*.sh (sourced, not run): locating / building the oracle and making
# small synthetic models. Scripts run from the repo root.
BUILD="${DRAGON_BUILD:-build}"
PY=/usr/bin/python3
ORACLE="$BUILD/llama_oracle"
THREADS="${ORACLE_THREADS:-1}"

# Qwen3 BPE ids are all < 151643; a fixed, varied prompt (no tokenizer needed).
prompt_tokens() {  # prompt_tokens N
  local n=$1 i ids=""
  for ((i = 0; i < n; i++)); do ids+="${ids:+,}$(( (i * 7919 + 101) % 151643 ))"; done
  echo "$ids"
}

ensure_oracle() {
  if [ ! -x "$ORACLE" ]; then
    echo "building llama_oracle in $BUILD"
    cmake --build "$BUILD" --target llama_oracle -j 2 >/dev/null || {
      echo "FAIL: cannot build $ORACLE (is the prebuilt libllama from npm installed? run scripts/setup.sh)"
      return 1
    }
  fi
}

# `dragon synth` counts as available once it lists presets (before that it is a placeholder).
synth_available() {
  [ -x "$BUILD/dragon" ] && "$BUILD/dragon" synth --list >/dev/null 2>&1
}

# Small widths for a preset: keeps every script well under a minute on 2 cores while keeping the
# real vocabulary, the real head_dim-vs-hidden mismatch and GQA. One line per preset family.
preset_sets() {  # preset_sets PRESET -> the --set arguments
  case "$1" in
    qwen3-*) echo "--set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32" ;;
    *) echo "" ;;
  esac
}

synth_model() {  # synth_model PRESET FORMAT OUT SEED
  local preset=$1 format=$2 out=$3 seed=$4
  # shellcheck disable=SC2046
  "$BUILD/dragon" synth "$preset" --format "$format" --dtype f32 --layers 2 --seed "$seed" \
    $(preset_sets "$preset") --out "$out"
}

# vocab_size of an HF config.json.
hf_vocab_size() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$1/config.json"; }
