#!/usr/bin/python3
"""Reference data for dragon's tensor formats, made by llama.cpp's own code.

  generate --out DIR [--seed N]
      Writes DIR/manifest.json plus raw files:
      * dequantize: random blocks of every dequantizable type (random bytes, with the f16/f32
        scale fields replaced by finite, moderate values) and their f32 values as decoded by
        gguf-py's numpy reference (Q8_K, which gguf-py lacks, and the plain integer / f64 types
        are decoded here from their definitions);
      * quantize: f32 inputs (gaussian, outliers, ties, zeros, f16/bf16 edge values) and the
        bytes gguf-py's quantize() makes for F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0, plus Q8_K
        from ggml's quantize_row_q8_K_ref (the prebuilt libggml-base of the same release);
      * reference_quantizers: inputs and the bytes of ggml's quantize_row_*_ref for the types
        dragon quantizes with its own search (Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS), decoded by
        gguf-py — the quality bar dragon's quantizers are measured against.
  decode --type T --blocks FILE --count N --out FILE
      Decodes N elements of type T with the numpy reference (to check bytes dragon wrote).

numpy only (plus ctypes for libggml-base). Exits 2 with a message when llama.cpp is missing.
"""
import argparse
import ctypes
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LLAMA_CPP = Path(os.environ.get("DRAGON_LLAMA_CPP", REPO / "build" / "llama.cpp"))
LIBGGML_BASE = Path(os.environ.get(
    "DRAGON_LIBGGML_BASE", REPO / "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so"))


def die(message):
    print(f"quants_reference.py: {message}", file=sys.stderr)
    sys.exit(2)


GGUF_PY = LLAMA_CPP / "gguf-py"
if not (GGUF_PY / "gguf" / "quants.py").is_file():
    die(f"gguf-py not found at {GGUF_PY} (run scripts/setup.sh)")
sys.path.insert(0, str(GGUF_PY))
from gguf import quants  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402

# Byte offsets of the f16 scale fields in each block type (ggml-common.h).
F16_SCALE_OFFSETS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "IQ4_NL": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "IQ4_XS": [0],
}
PLAIN_NUMPY = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8,
               "I16": np.int16, "I32": np.int32, "I64": np.int64}
BIT_EXACT_QUANTIZE = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
OWN_SEARCH_QUANTIZE = ["Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]


def moderate_scales(rng, n, dtype):
    """Finite scales of either sign spanning 1e-4 .. 10, with some zeros and f16 subnormals."""
    values = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-4, 1, n)
    values[rng.random(n) < 0.03] = 0.0
    values[rng.random(n) < 0.03] = 3e-6  # an f16 subnormal
    return values.astype(dtype)


def dequantize_q8_k(blocks):
    """Q8_K from its definition: f32 d, int8 qs[256], int16 bsums[16] (unused here)."""
    d = blocks[:, 0:4].copy().view(np.float32)
    qs = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
    return (d * qs).reshape(-1)


def numpy_dequantize(type_name, raw, count):
    if type_name in ("F32", "F16", "F64", "I8", "I16", "I32", "I64"):
        return np.frombuffer(raw, dtype=PLAIN_NUMPY[type_name]).astype(np.float32)
    block_elems, block_bytes = GGML_QUANT_SIZES[T[type_name]]
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, block_bytes)
    assert blocks.shape[0] * block_elems == count
    if type_name == "Q8_K":
        return dequantize_q8_k(blocks)
    return quants.dequantize(blocks, T[type_name]).reshape(-1).astype(np.float32, copy=False)


def random_blocks(rng, type_name, n_blocks):
    block_elems, block_bytes = GGML_QUANT_SIZES[T[type_name]]
    count = n_blocks * block_elems
    if type_name in ("F32", "F64"):
        values = rng.standard_normal(count) * 10.0 ** rng.uniform(-6, 6, count)
        return values.astype(PLAIN_NUMPY[type_name]).tobytes(), count
    if type_name == "F16":  # every finite bit pattern (subnormals included)
        bits = rng.integers(0, 1 << 16, count, dtype=np.uint16)
        bits[(bits & 0x7C00) == 0x7C00] &= 0xBFFF
        return bits.tobytes(), count
    if type_name == "BF16":  # every bit pattern, NaN and inf included: decoding is a shift
        return rng.integers(0, 1 << 16, count, dtype=np.uint16).tobytes(), count
    if type_name in ("I8", "I16", "I32", "I64"):
        info = np.iinfo(PLAIN_NUMPY[type_name])
        return rng.integers(info.min, info.max, count, dtype=PLAIN_NUMPY[type_name], endpoint=True).tobytes(), count
    blocks = rng.integers(0, 256, (n_blocks, block_bytes), dtype=np.uint8)
    if type_name == "Q8_K":
        blocks[:, 0:4] = moderate_scales(rng, n_blocks, np.float32).view(np.uint8).reshape(n_blocks, 4)
    for offset in F16_SCALE_OFFSETS.get(type_name, []):
        blocks[:, offset:offset + 2] = moderate_scales(rng, n_blocks, np.float16).view(np.uint8).reshape(n_blocks, 2)
    return blocks.tobytes(), count


def legacy_quantize_input(rng, rows, cols):
    """Rows of 32-blocks that exercise every branch of the legacy quantizers."""
    x = rng.standard_normal((rows, cols)) * 10.0 ** rng.uniform(-3, 2, (rows, 1))
    blocks = x.reshape(-1, 32)
    n = blocks.shape[0]
    pick = rng.permutation(n)
    blocks[pick[0:n // 16]] = 0.0                                         # all zero
    for b in pick[n // 16:n // 8]:                                        # one huge outlier
        blocks[b, rng.integers(32)] *= 1000.0
    for b in pick[n // 8:n // 4]:                                         # exact ties / halves
        blocks[b] = rng.integers(-16, 17, 32) * 0.5
    for b in pick[n // 4:n // 4 + n // 16]:                               # +max and -max tie
        m = np.abs(blocks[b]).max() + 1.0
        i, j = rng.choice(32, 2, replace=False)
        blocks[b, i], blocks[b, j] = -m, m
    for b in pick[n // 4 + n // 16:n // 4 + n // 8]:                      # constant blocks
        blocks[b] = rng.standard_normal()
    return blocks.reshape(rows, cols).astype(np.float32)


def half_edge_input(rng, count):
    """f32 values around the f16 / bf16 edges: subnormals, overflow, exact ties, inf, quiet NaN."""
    parts = [
        rng.integers(0, 1 << 32, count // 4, dtype=np.uint64).astype(np.uint32).view(np.float32),  # any bits
        (rng.standard_normal(count // 4) * 10.0 ** rng.uniform(-9, 6, count // 4)).astype(np.float32),
        # f16 ties: a normal f16 value plus exactly half an f16 ulp (bit 12 of the f32 mantissa)
        ((rng.integers(0x0400, 0x7BFF, count // 4).astype(np.uint16).view(np.float16).astype(np.float32)
          .view(np.uint32) + np.uint32(0x1000)) | (rng.integers(0, 2, count // 4).astype(np.uint32) << 31))
        .astype(np.uint32).view(np.float32),
        # bf16 ties: the lower 16 bits exactly 0x8000
        ((rng.integers(0, 1 << 16, count // 8, dtype=np.uint32) << 16) | 0x8000).astype(np.uint32).view(np.float32),
        np.array([65504, 65519.99, 65520, 65536, 1e9, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -14,
                  np.inf, -np.inf, 0.0, -0.0, 3.4e38], dtype=np.float32),
    ]
    values = np.concatenate(parts)
    bits = values.view(np.uint32)
    nan = (bits & 0x7FFFFFFF) > 0x7F800000
    bits[nan] |= 0x00400000  # quiet NaNs only: conversions disagree on signalling-NaN payloads
    values = bits.view(np.float32)
    pad = (-len(values)) % 256
    return np.concatenate([values, np.zeros(pad, np.float32)])


def gaussian_weights(rng, rows, cols):
    """Weight-like rows: gaussian with a per-row spread and a sprinkle of outliers."""
    x = rng.standard_normal((rows, cols)) * 10.0 ** rng.uniform(-2, 0, (rows, 1))
    outliers = rng.random((rows, cols)) < 0.002
    x[outliers] *= rng.uniform(5, 20, outliers.sum())
    return x.astype(np.float32)


class Ggml:
    """ggml's reference row routines from the prebuilt libggml-base."""

    def __init__(self, path):
        if not path.is_file():
            die(f"libggml-base not found at {path} (run scripts/setup.sh)")
        self.lib = ctypes.CDLL(str(path))

    def quantize(self, type_name, x):
        block_elems, block_bytes = GGML_QUANT_SIZES[T[type_name]]
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        out = np.zeros(x.size // block_elems * block_bytes, np.uint8)
        fn = getattr(self.lib, f"quantize_row_{type_name.lower().replace('_k', '_K')}_ref")
        fn(x.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(x.size))
        return out


def write(out_dir, name, array):
    (out_dir / name).write_bytes(np.ascontiguousarray(array).tobytes())
    return name


def generate(out_dir, seed):
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    ggml = Ggml(LIBGGML_BASE)
    manifest = {"seed": seed, "quant_sizes": {t.name: list(GGML_QUANT_SIZES[t]) for t in GGML_QUANT_SIZES},
                "dequantize": [], "quantize": [], "reference_quantizers": []}

    dequant_types = ["F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                     "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS"]
    for type_name in dequant_types:
        block_elems = GGML_QUANT_SIZES[T[type_name]][0]
        n_blocks = max(64, 32768 // block_elems) if block_elems > 1 else 16384
        raw, count = random_blocks(rng, type_name, n_blocks)
        values = numpy_dequantize(type_name, raw, count)
        manifest["dequantize"].append({"type": type_name, "count": count,
                                       "blocks": write(out_dir, f"dq_{type_name}.bin", np.frombuffer(raw, np.uint8)),
                                       "values": write(out_dir, f"dq_{type_name}.f32", values.astype(np.float32))})

    legacy = legacy_quantize_input(rng, 64, 512)
    edges = half_edge_input(rng, 16384)
    write(out_dir, "q_legacy_in.f32", legacy)
    write(out_dir, "q_edges_in.f32", edges)
    for type_name in BIT_EXACT_QUANTIZE:
        source, name = (edges, "q_edges_in.f32") if type_name in ("F32", "F16", "BF16") else (legacy, "q_legacy_in.f32")
        data = quants.quantize(source.reshape(-1, 256), T[type_name])
        manifest["quantize"].append({"type": type_name, "count": int(source.size), "input": name,
                                     "reference": "gguf-py quantize()",
                                     "bytes": write(out_dir, f"q_{type_name}.bin", data.view(np.uint8))})
    manifest["quantize"].append({"type": "Q8_K", "count": int(legacy.size), "input": "q_legacy_in.f32",
                                 "reference": "ggml quantize_row_q8_K_ref",
                                 "bytes": write(out_dir, "q_Q8_K.bin", ggml.quantize("Q8_K", legacy))})

    weights = gaussian_weights(rng, 64, 1024)
    write(out_dir, "k_in.f32", weights)
    for type_name in OWN_SEARCH_QUANTIZE:
        data = ggml.quantize(type_name, weights)
        values = numpy_dequantize(type_name, data.tobytes(), weights.size)
        manifest["reference_quantizers"].append({
            "type": type_name, "count": int(weights.size), "input": "k_in.f32",
            "ggml_bytes": write(out_dir, f"ggml_{type_name}.bin", data),
            "ggml_values": write(out_dir, f"ggml_{type_name}.f32", values)})

    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {len(manifest['dequantize'])} dequantize, {len(manifest['quantize'])} quantize and "
          f"{len(manifest['reference_quantizers'])} reference-quantizer cases to {out_dir} (seed {seed})")


def decode(type_name, blocks_path, count, out_path):
    values = numpy_dequantize(type_name, Path(blocks_path).read_bytes(), count)
    Path(out_path).write_bytes(values.astype(np.float32).tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--out", required=True, type=Path)
    gen.add_argument("--seed", type=int, default=1234)
    dec = sub.add_parser("decode")
    dec.add_argument("--type", required=True)
    dec.add_argument("--blocks", required=True)
    dec.add_argument("--count", required=True, type=int)
    dec.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "generate":
        with np.errstate(all="ignore"):  # f16 overflow to inf is part of the test input
            generate(args.out, args.seed)
    else:
        decode(args.type, args.blocks, args.count, args.out)


if __name__ == "__main__":
    main()
