#!/usr/bin/python3
"""Self-test of the reference's hand-written safetensors reader (safetensors_io.py): float8
tables against known values and an independent bit-level conversion, BF16, sharded directories,
DeepSeek-style FP8 block scales, and errors that name the file. Prints what it checked."""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import FP8_E4M3_TABLE, FP8_E5M2_TABLE, HfWeights, SafetensorsFile, write_safetensors  # noqa: E402

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def e4m3_via_float16(byte):
    """E4M3 byte -> float via the float16 bit pattern (exponent rebias 7 -> 15, mantissa << 7)."""
    sign, exponent, mantissa = byte >> 7, (byte >> 3) & 0xF, byte & 0x7
    if exponent == 0:
        return (-1) ** sign * mantissa / 8 * 2.0 ** -6
    bits = (sign << 15) | ((exponent + 8) << 10) | (mantissa << 7)
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def test_fp8_tables():
    known = {0x00: 0.0, 0x38: 1.0, 0xB8: -1.0, 0x7E: 448.0, 0x08: 2.0 ** -6, 0x01: 2.0 ** -9, 0x40: 2.0, 0x3C: 1.5}
    check(all(FP8_E4M3_TABLE[b] == v for b, v in known.items()), f"E4M3 known values {sorted(known.values())}")
    nans = [b for b in range(256) if np.isnan(FP8_E4M3_TABLE[b])]
    check(nans == [0x7F, 0xFF], f"E4M3 NaN bytes {nans} == [0x7f, 0xff], no infinities")
    finite = [b for b in range(256) if b not in (0x7F, 0xFF)]
    mismatches = [b for b in finite if FP8_E4M3_TABLE[b] != e4m3_via_float16(b)]
    check(not mismatches, f"E4M3 table == float16 bit conversion for all 254 finite bytes ({len(mismatches)} differ)")
    positive = FP8_E4M3_TABLE[:0x7F]
    check(bool(np.all(np.diff(positive) > 0)), "E4M3 positive values strictly increasing, max 448")
    known5 = {0x3C: 1.0, 0x7B: 57344.0, 0x7C: np.inf, 0xFC: -np.inf, 0x01: 2.0 ** -16}
    check(all(FP8_E5M2_TABLE[b] == v for b, v in known5.items()), "E5M2 known values incl. +-inf, max 57344")


def test_bf16_and_shards(tmp):
    values = np.array([[1.0, -2.5, 3.140625], [1e-3, 65280.0, -0.0]], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)
    exact = (bf16.astype(np.uint32) << 16).view(np.float32)
    write_safetensors(os.path.join(tmp, "a.safetensors"), {"x.weight": ("BF16", bf16)})
    write_safetensors(os.path.join(tmp, "b.safetensors"), {"y.weight": values})
    with open(os.path.join(tmp, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"x.weight": "a.safetensors", "y.weight": "b.safetensors"}}, f)
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump({"architectures": ["Test"]}, f)
    weights = HfWeights(tmp)
    check(sorted(weights.names()) == ["x.weight", "y.weight"], "sharded directory: both tensors found via index")
    check(np.array_equal(weights.numpy("x.weight"), exact.astype(np.float64)), "BF16 decoded as the upper half of f32")
    check(np.array_equal(weights.numpy("y.weight"), values.astype(np.float64)), "F32 read back exactly")


def test_fp8_block_scales(tmp):
    rng = np.random.default_rng(3)
    rows, cols = 130, 260  # not multiples of 128: partial edge blocks
    raw = rng.integers(0, 256, size=(rows, cols), dtype=np.uint8)
    raw[(raw & 0x7F) == 0x7F] = 0x38  # no NaNs
    scales = rng.uniform(0.5, 2.0, size=(2, 3)).astype(np.float32)
    write_safetensors(os.path.join(tmp, "model.safetensors"),
                      {"w.weight": ("F8_E4M3", raw), "w.weight_scale_inv": scales})
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}, f)
    got = HfWeights(tmp).numpy("w.weight")
    expected = np.empty((rows, cols))
    for r in range(rows):
        for c in range(cols):
            expected[r, c] = FP8_E4M3_TABLE[raw[r, c]] * scales[r // 128, c // 128]
    check(np.array_equal(got, expected), f"FP8 {rows}x{cols} with 128x128 block scale_inv {list(scales.shape)} dequantized per block")


def test_errors(tmp):
    path = os.path.join(tmp, "bad.safetensors")
    write_safetensors(path, {"z": np.zeros((4, 4), dtype=np.float32)})
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 8)
    try:
        SafetensorsFile(path).read("z")
        check(False, "truncated file rejected")
    except ValueError as error:
        check(path in str(error) and "z" in str(error), f"truncated file rejected: {error}")


test_fp8_tables()
for test in (test_bf16_and_shards, test_fp8_block_scales, test_errors):
    with tempfile.TemporaryDirectory() as tmp:
        test(tmp)
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
