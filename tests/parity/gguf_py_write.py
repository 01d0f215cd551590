#!/usr/bin/python3
"""Writes a GGUF with llama.cpp's gguf-py (the reference writer) and a JSON manifest of what it
was asked to write, so tests/io/gguf_interop_test.cc can check dragon reads every key, value,
shape and byte exactly.

usage: gguf_py_write.py <gguf-py dir> <out.gguf> <manifest.json>

The manifest is built from the same Python values handed to the writer (not by reading the file
back), as typed JSON: {"type": "UINT8", "value": 200} or
{"type": "ARRAY", "element_type": "INT32", "elements": [...typed...]}.
"""
import json
import math
import sys


def main():
    gguf_py_dir, out_path, manifest_path = sys.argv[1:4]
    sys.path.insert(0, gguf_py_dir)
    import numpy as np
    import gguf
    from gguf import GGUFValueType as T

    # (key, type, value, array element type or None). Nested arrays are lists of lists.
    metadata = [
        ("general.architecture", T.STRING, "llama", None),  # GGUFWriter(arch=...) adds it first
        ("general.name", T.STRING, "Grüße 你好 🐉", None),
        ("t.str_empty", T.STRING, "", None),
        ("t.u8", T.UINT8, 200, None),
        ("t.i8", T.INT8, -100, None),
        ("t.u16", T.UINT16, 60000, None),
        ("t.i16", T.INT16, -30000, None),
        ("t.u32", T.UINT32, 4000000000, None),
        ("t.i32", T.INT32, -2000000000, None),
        ("t.u64", T.UINT64, 2**63 + 5, None),
        ("t.i64", T.INT64, -(2**62) - 3, None),
        ("t.f32", T.FLOAT32, 0.1, None),
        ("t.f32_tiny", T.FLOAT32, -1.5e-30, None),
        ("t.f64", T.FLOAT64, 1.0 / 3.0, None),
        ("t.bool_true", T.BOOL, True, None),
        ("t.bool_false", T.BOOL, False, None),
        ("t.arr_str", T.ARRAY, ["<s>", "", "ü", "🐉", "Ġthe"], T.STRING),
        ("t.arr_i32", T.ARRAY, [1, -2, 2147483647], T.INT32),
        ("t.arr_f32", T.ARRAY, [0.5, -0.25, 1e10], T.FLOAT32),
        ("t.arr_bool", T.ARRAY, [True, False, True], T.BOOL),
        ("t.arr_u8", T.ARRAY, [0, 1, 255], T.UINT8),
        ("t.arr_u64", T.ARRAY, [1, 2**64 - 1], T.UINT64),
        ("t.arr_f64", T.ARRAY, [math.pi, -0.0], T.FLOAT64),
        ("t.arr_nested", T.ARRAY, [[1, 2], [3], [4, 5, 6]], T.ARRAY),
        ("t.arr_nested_str", T.ARRAY, [["a", "b"], ["c"]], T.ARRAY),
        ("tokenizer.ggml.tokens", T.ARRAY, [f"tok{i}" for i in range(1000)], T.STRING),
    ]

    w = gguf.GGUFWriter(out_path, arch="llama")
    for key, vtype, value, sub_type in metadata[1:]:
        if vtype == T.ARRAY and sub_type != T.ARRAY:
            w.add_key_value(key, value, vtype, sub_type=sub_type)
        else:
            w.add_key_value(key, value, vtype)  # nested arrays: gguf-py infers each level

    # Tensors with known values (the C++ test recomputes them from the same formulas).
    i24 = np.arange(24, dtype=np.float32)
    embd = (i24 * 0.25 - 3.0).reshape(3, 8)
    i64 = np.arange(64, dtype=np.float32)
    attn_q = (i64 / 8.0 - 4.0).astype(np.float16).reshape(2, 4, 8)
    i256 = np.arange(256, dtype=np.float32)
    ffn_up = ((i256 % 17) - 8.0) * 0.125
    ffn_up_q8 = gguf.quants.quantize(ffn_up.reshape(4, 64), gguf.GGMLQuantizationType.Q8_0)
    experts = np.arange(24, dtype=np.float32).reshape(2, 3, 1, 4)
    ids = np.array([7, -1, 123456], dtype=np.int32)
    tensors = [
        ("token_embd.weight", embd, None, "F32", [3, 8]),
        ("blk.0.attn_q.weight", attn_q, None, "F16", [2, 4, 8]),
        ("blk.0.ffn_up.weight", ffn_up_q8, gguf.GGMLQuantizationType.Q8_0, "Q8_0", [4, 64]),
        ("blk.0.ffn_gate_exps.weight", experts, None, "F32", [2, 3, 1, 4]),
        ("blk.0.ids", ids, None, "I32", [3]),
    ]
    for name, data, raw_dtype, _, _ in tensors:
        w.add_tensor(name, data, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    def typed(vtype, value, sub_type=None):
        if vtype != T.ARRAY:
            return {"type": vtype.name, "value": value}
        if sub_type == T.ARRAY:  # nested: each element is an array of the type of its first leaf
            inner = T.STRING if isinstance(value[0][0], str) else T.INT32
            return {"type": "ARRAY", "element_type": "ARRAY",
                    "elements": [typed(T.ARRAY, v, inner) for v in value]}
        return {"type": "ARRAY", "element_type": sub_type.name,
                "elements": [typed(sub_type, v) for v in value]}

    manifest = {
        "metadata": [{"key": k, "value": typed(t, v, s)} for k, t, v, s in metadata],
        "tensors": [{"name": n, "type": tn, "shape": shape, "hex": np.ascontiguousarray(d).tobytes().hex()}
                    for n, d, _, tn, shape in tensors],
    }
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
