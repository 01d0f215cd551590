#!/usr/bin/env bash
# dragon quantize: an F32 synthetic GGUF requantized to Q8_0 must equal the same model written
# as Q8_0 directly by dragon synth (same seed) byte for byte on every tensor's data, keep the
# metadata (tokenizer included), and load in dragon info. Every other TYPE it offers (q4_0, q5_k,
# q6_k) must write a file llama.cpp loads, with logits beside dragon's on it (rel RMSE <= 5e-2 —
# the engines round activations differently on quantized weights — and argmax at >= 90 % of the
# positions; dense parity measures Q6_K properly, by KL to the F32 truth). Prints its figures.
set -euo pipefail
BUILD="${DRAGON_BUILD:-build}"
DRAGON="$BUILD/dragon"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
flags="--layers 2 --set hidden_size=128 --set intermediate_size=256 --set num_attention_heads=4 --set num_key_value_heads=2 --set head_dim=32"
"$DRAGON" synth qwen3-0.6b --format gguf --dtype f32 --seed 3 $flags --out "$TMP/f32.gguf" > /dev/null
"$DRAGON" synth qwen3-0.6b --format gguf --dtype q8_0 --seed 3 $flags --out "$TMP/direct.gguf" > /dev/null
"$DRAGON" quantize "$TMP/f32.gguf" "$TMP/requant.gguf" q8_0
/usr/bin/python3 - "$TMP/direct.gguf" "$TMP/requant.gguf" "$TMP/f32.gguf" <<'PY'
import sys
sys.path.insert(0, "build/llama.cpp/gguf-py")
from gguf import GGUFReader
direct, requant, f32 = (GGUFReader(p) for p in sys.argv[1:4])
dt = {t.name: t for t in direct.tensors}
assert len(dt) == len(requant.tensors), "tensor count differs"
differ = [t.name for t in requant.tensors if t.tensor_type != dt[t.name].tensor_type or bytes(t.data.tobytes()) != bytes(dt[t.name].data.tobytes())]
keys_in = set(f32.fields) - {"general.file_type", "general.quantization_version"}
missing = [k for k in keys_in if k not in requant.fields]
size = lambda r: sum(t.n_bytes for t in r.tensors)
print(f"quantize f32 -> q8_0: {len(requant.tensors)} tensors, {size(f32)} -> {size(requant)} bytes; "
      f"{len(differ)} differ from synth --dtype q8_0; {len(missing)} metadata keys missing")
if differ or missing:
    print("FAIL:", differ[:5], missing[:5]); sys.exit(1)
PY
"$DRAGON" info "$TMP/requant.gguf" > /dev/null
tokens=$(/usr/bin/python3 -c 'print(",".join(str((i * 7919 + 101) % 151643) for i in range(16)))')
for type in q4_0 q5_k q6_k; do
  "$DRAGON" quantize "$TMP/f32.gguf" "$TMP/$type.gguf" $type
  "$BUILD/llama_oracle" --model "$TMP/$type.gguf" --tokens "$tokens" --out "$TMP/llama-$type.f32" --threads 2 2>/dev/null ||
    { echo "FAIL: llama.cpp cannot load the $type file"; exit 1; }
  "$DRAGON" logits --model "$TMP/$type.gguf" --tokens "$tokens" --out "$TMP/dragon-$type.f32" --kv-type f32 2>/dev/null
  /usr/bin/python3 tests/parity/dense_compare.py "$TMP/dragon-$type.f32" "$TMP/llama-$type.f32" --tokens 16 --vocab 151936 \
    --label "quantize $type: dragon vs llama.cpp on the file" --max-rel-rmse 5e-2 --min-argmax 0.9 --tie-gap 1e-2
done
echo "PASS quantize e2e"
