"""Reads Hugging Face model directories by hand (no safetensors / transformers packages here).

A safetensors file is: 8-byte little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw
tensor bytes (offsets are relative to the end of the header). A directory holds either one
model.safetensors or shards listed in model.safetensors.index.json ("weight_map": name -> file).

HfWeights opens every file with mmap and decodes a tensor only when it is asked for, so the
reference can run models whose weights do not fit in memory twice over.

Decoding, independent of dragon's C++ code on purpose (the point of an oracle):
  - BF16: the upper 16 bits of an IEEE float32, so uint16 << 16 reinterpreted as float32.
  - F8_E4M3 (e4m3fn) and F8_E5M2: a 256-entry table built from the bit definitions below.
  - DeepSeek-V3 style FP8 checkpoints store, next to each F8 "<x>.weight", a float32
    "<x>.weight_scale_inv" of shape [ceil(rows/128), ceil(cols/128)]; the real weight is
    weight * scale_inv applied per 128x128 block (block size from quantization_config).
"""
import json
import mmap
import os
import struct

import numpy as np
import torch


def _fp8_table(exponent_bits, mantissa_bits, bias, has_infinity):
    """Value of every byte of a 1-sign/e-exponent/m-mantissa float8 format, as float64."""
    table = np.zeros(256, dtype=np.float64)
    max_exponent = (1 << exponent_bits) - 1
    max_mantissa = (1 << mantissa_bits) - 1
    for byte in range(256):
        sign = -1.0 if byte & 0x80 else 1.0
        exponent = (byte >> mantissa_bits) & max_exponent
        mantissa = byte & max_mantissa
        if exponent == max_exponent and has_infinity:
            # IEEE-like (E5M2): all-ones exponent is infinity (mantissa 0) or NaN.
            table[byte] = sign * np.inf if mantissa == 0 else np.nan
        elif exponent == max_exponent and mantissa == max_mantissa and not has_infinity:
            # E4M3 "fn" (finite): no infinities, only S.1111.111 is NaN; max finite is 448.
            table[byte] = np.nan
        elif exponent == 0:
            table[byte] = sign * (mantissa / (1 << mantissa_bits)) * 2.0 ** (1 - bias)  # subnormal
        else:
            table[byte] = sign * (1 + mantissa / (1 << mantissa_bits)) * 2.0 ** (exponent - bias)
    return table


FP8_E4M3_TABLE = _fp8_table(exponent_bits=4, mantissa_bits=3, bias=7, has_infinity=False)
FP8_E5M2_TABLE = _fp8_table(exponent_bits=5, mantissa_bits=2, bias=15, has_infinity=True)

# safetensors dtype -> numpy dtype of the stored bytes (little-endian).
_RAW_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1",
    "F8_E4M3": "u1", "F8_E5M2": "u1",
}


def _decode(dtype_name, raw):
    """Raw numpy array of stored units -> float64 numpy array (or ints for integer types)."""
    if dtype_name == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if dtype_name == "F8_E4M3":
        return FP8_E4M3_TABLE[raw]
    if dtype_name == "F8_E5M2":
        return FP8_E5M2_TABLE[raw]
    if dtype_name in ("F64", "F32", "F16"):
        return raw.astype(np.float64)
    return raw.copy()


class SafetensorsFile:
    """One .safetensors file: parsed header, tensors decoded on demand from an mmap."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.path.getsize(path) else b""
        if len(self._map) < 8:
            raise ValueError(f"{path}: too short for a safetensors header ({len(self._map)} bytes)")
        (header_len,) = struct.unpack("<Q", self._map[:8])
        if 8 + header_len > len(self._map):
            raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
        header = json.loads(bytes(self._map[8:8 + header_len]).decode("utf-8"))
        self.metadata = header.pop("__metadata__", {})
        self.entries = header
        self._data_start = 8 + header_len

    def names(self):
        return list(self.entries)

    def read(self, name):
        """The tensor as a numpy array in its decoded value type (float64 for floats)."""
        entry = self.entries[name]
        dtype_name = entry["dtype"]
        if dtype_name not in _RAW_DTYPES:
            raise ValueError(f"{self.path}: tensor {name}: unsupported dtype {dtype_name}")
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        raw_dtype = np.dtype(_RAW_DTYPES[dtype_name])
        expected = int(np.prod(shape, dtype=np.int64)) * raw_dtype.itemsize
        if end - begin != expected:
            raise ValueError(f"{self.path}: tensor {name}: {end - begin} bytes for shape {list(shape)} "
                             f"of {dtype_name} (expected {expected})")
        if self._data_start + end > len(self._map):
            raise ValueError(f"{self.path}: tensor {name}: data offset {end} past the end of the file")
        raw = np.frombuffer(self._map, dtype=raw_dtype, count=expected // raw_dtype.itemsize,
                            offset=self._data_start + begin).reshape(shape)
        return _decode(dtype_name, raw)

    def dtype_of(self, name):
        return self.entries[name]["dtype"]


class HfWeights:
    """All tensors of an HF model directory (single file or sharded), by HF name.

    get(name, dtype) returns a torch tensor in `dtype` with FP8 block scales already applied.
    """

    def __init__(self, model_dir, config=None):
        self.model_dir = model_dir
        self.config = config if config is not None else load_config(model_dir)
        self._files = {}   # file name -> SafetensorsFile
        self._where = {}   # tensor name -> file name
        index_path = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(index_path):
            with open(index_path) as f:
                weight_map = json.load(f)["weight_map"]
            for name, file_name in weight_map.items():
                self._where[name] = file_name
        else:
            file_names = sorted(n for n in os.listdir(model_dir) if n.endswith(".safetensors"))
            if not file_names:
                raise FileNotFoundError(f"{model_dir}: no *.safetensors files")
            for file_name in file_names:
                for name in self._open(file_name).names():
                    self._where[name] = file_name
        quant = self.config.get("quantization_config") or {}
        self.fp8_block = tuple(quant.get("weight_block_size", (128, 128)))

    def _open(self, file_name):
        if file_name not in self._files:
            self._files[file_name] = SafetensorsFile(os.path.join(self.model_dir, file_name))
        return self._files[file_name]

    def __contains__(self, name):
        return name in self._where

    def names(self):
        return list(self._where)

    def numpy(self, name):
        """Decoded float64 (or integer) numpy array, FP8 block scales applied."""
        if name not in self._where:
            raise KeyError(f"{self.model_dir}: no tensor named {name}")
        file = self._open(self._where[name])
        value = file.read(name)
        scale_name = name + "_scale_inv"
        if file.dtype_of(name).startswith("F8_") and scale_name in self._where:
            value = value * self._expand_block_scales(self._open(self._where[scale_name]).read(scale_name),
                                                      value.shape, name)
        return value

    def get(self, name, dtype=torch.float32):
        return torch.from_numpy(np.ascontiguousarray(self.numpy(name))).to(dtype)

    def _expand_block_scales(self, scales, shape, name):
        """[ceil(rows/br), ceil(cols/bc)] scales -> one scale per element of a [rows, cols] weight."""
        rows, cols = shape
        block_rows, block_cols = self.fp8_block
        expected = (-(-rows // block_rows), -(-cols // block_cols))
        if tuple(scales.shape) != expected:
            raise ValueError(f"{name}_scale_inv: shape {list(scales.shape)}, expected {list(expected)} "
                             f"for weight {list(shape)} with {block_rows}x{block_cols} blocks")
        full = np.repeat(np.repeat(scales, block_rows, axis=0), block_cols, axis=1)
        return full[:rows, :cols]


def load_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    with open(path) as f:
        return json.load(f)


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: numpy array} as one safetensors file (dtype from the array: f32/f16/f64/
    or BF16 when given as ("BF16", uint16 array)). Used by the tiny-model generator and tests."""
    header = {}
    blobs = []
    offset = 0
    numpy_to_st = {"<f4": "F32", "<f2": "F16", "<f8": "F64", "<i8": "I64", "<i4": "I32", "|u1": "U8"}
    for name, value in tensors.items():
        if isinstance(value, tuple):
            dtype_name, array = value
        else:
            array = value
            if array.dtype.str not in numpy_to_st:
                raise ValueError(f"{path}: tensor {name}: cannot store numpy dtype {array.dtype}")
            dtype_name = numpy_to_st[array.dtype.str]
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # keep tensor data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)
