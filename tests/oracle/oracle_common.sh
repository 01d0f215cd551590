# Shared by tests/oracle/run_*.sh (sourced, not run): locating / building the oracle and making
# small synthetic models. Scripts run from the repo root.
BUILD="${DRAGON_BUILD:-build}"
PY=/usr/bin/python3
ORACLE="$BUILD/llama_oracle"
THREADS="${ORACLE_THREADS:-1}"
# dragon synth needs the tokenizers of setup.sh's build/share; another build dir finds them there.
if [ -z "${DRAGON_TOKENIZERS:-}" ] && [ ! -d "$BUILD/share/tokenizers" ]; then export DRAGON_TOKENIZERS=build/share/tokenizers; fi

# A fixed, varied prompt (no tokenizer needed): ids below VOCAB (default 151643: Qwen3's BPE ids).
prompt_tokens() {  # prompt_tokens N [VOCAB]
  local n=$1 vocab=${2:-151643} i ids=""
  for ((i = 0; i < n; i++)); do ids+="${ids:+,}$(( (i * 7919 + 101) % vocab ))"; done
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
    # head_dim 16 = hidden / heads (these configs have no head_dim key)
    qwen2*|deepseek-llm-*|yi-*) echo "--set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 --set num_key_value_heads=2" ;;
    # head_dim 32 != hidden / heads, as in the releases; GLM rotates half of it
    glm-4-*|ernie-4.5-0.3b) echo "--set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32" ;;
    baichuan*) echo "--set hidden_size=64 --set intermediate_size=128 --set num_attention_heads=4" ;;
    *) echo "" ;;
  esac
}

# Layer count for a preset: 2, except Baichuan, where llama.cpp picks rope (7B) or ALiBi (13B) by
# the layer count alone (32 or 40; any other depth gets neither), so those keep their real depth.
preset_layers() {  # preset_layers PRESET
  case "$1" in
    baichuan2-7b) echo 32 ;;
    *) echo 2 ;;
  esac
}

synth_model() {  # synth_model PRESET FORMAT OUT SEED [LAYERS]   (default: preset_layers)
  local preset=$1 format=$2 out=$3 seed=$4 layers=${5:-$(preset_layers "$1")}
  # shellcheck disable=SC2046
  "$BUILD/dragon" synth "$preset" --format "$format" --dtype f32 --layers "$layers" --seed "$seed" \
    $(preset_sets "$preset") --out "$out"
}

# vocab_size of an HF config.json.
hf_vocab_size() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$1/config.json"; }
