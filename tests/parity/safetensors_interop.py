#!/usr/bin/python3
"""safetensors interop between PyTorch and dragon, run by tests/io/safetensors_interop_test.cc.

No safetensors package here: the format is written and read by hand (8-byte little-endian
header length, JSON header, raw little-endian tensor bytes), with torch 1.13 tensors for the
values — including bfloat16, whose bytes come from torch itself.

  safetensors_interop.py write FILE EXPECTED_JSON
      Writes FILE from torch tensors of every plain dtype, and EXPECTED_JSON
      {name: {"dtype", "shape", "values": [float64...]}} for dragon to compare against.
  safetensors_interop.py read FILE EXPECTED_JSON
      Reads FILE (written by dragon) with torch and compares every tensor with EXPECTED_JSON
      (written by the C++ test); also checks the layout rules. Exits 1 on any mismatch.
"""
import json
import struct
import sys

import torch

TORCH_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def make_tensors():
    g = torch.Generator().manual_seed(1234)
    return {
        "model.embed_tokens.weight": torch.randn(5, 7, generator=g).to(torch.bfloat16),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(3, 4, 2, generator=g),
        "model.layers.0.input_layernorm.weight": torch.randn(9, generator=g).to(torch.float16),
        "lm_head.weight": torch.randn(2, 3, generator=g).to(torch.float64) * 1e-3,
        "position_ids": torch.arange(-3, 5, dtype=torch.int64).reshape(2, 4) * 1000000007,
        "counts.i32": torch.tensor([-2147483648, 0, 2147483647], dtype=torch.int32),
        "counts.i16": torch.tensor([-32768, 7, 32767], dtype=torch.int16),
        "counts.i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "bytes.u8": torch.tensor([0, 128, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True, True]),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }


def tensor_bytes(tensor):
    tensor = tensor.contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)  # numpy has no bfloat16; the bits are what matter
    return tensor.numpy().tobytes()


def write(path, expected_path):
    tensors = make_tensors()
    dtype_names = {v: k for k, v in TORCH_DTYPES.items()}
    header, blobs, offset = {"__metadata__": {"format": "pt", "writer": "torch by hand"}}, [], 0
    for name, tensor in tensors.items():
        blob = tensor_bytes(tensor)
        header[name] = {"dtype": dtype_names[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    expected = {name: {"dtype": dtype_names[t.dtype], "shape": list(t.shape),
                       "values": t.to(torch.float64).flatten().tolist()} for name, t in tensors.items()}
    with open(expected_path, "w") as f:
        json.dump(expected, f)
    print(f"safetensors_interop: wrote {len(tensors)} tensors ({offset} data bytes) to {path}")


def read(path, expected_path):
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len].decode("utf-8"))
    with open(expected_path) as f:
        expected = json.load(f)
    problems = []
    if header_len % 8:
        problems.append(f"header length {header_len} is not a multiple of 8")
    metadata = header.pop("__metadata__", {})
    if metadata.get("format") != "pt":
        problems.append(f"__metadata__ {metadata} lacks format=pt (transformers refuses such files)")
    if sorted(header) != sorted(expected):
        problems.append(f"tensor names {sorted(header)} != expected {sorted(expected)}")
    data = raw[8 + header_len:]
    spans = sorted(tuple(entry["data_offsets"]) for entry in header.values())
    position = 0
    for begin, end in spans:  # the reference reader insists on contiguous data covering the file
        if begin != position:
            problems.append(f"gap or overlap at data offset {position} (next tensor begins at {begin})")
        position = end
    if position != len(data):
        problems.append(f"data section is {len(data)} bytes, tensors end at {position}")

    max_err = 0.0
    for name, entry in header.items():
        if name not in expected:
            continue
        want = expected[name]
        dtype = TORCH_DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        if (8 + header_len + begin) % torch.tensor([], dtype=dtype).element_size():
            problems.append(f"{name}: data at file offset {8 + header_len + begin} is misaligned")
        storage_dtype = torch.int16 if dtype == torch.bfloat16 else dtype
        tensor = torch.frombuffer(bytearray(data[begin:end]), dtype=storage_dtype) if end > begin else \
            torch.zeros(0, dtype=storage_dtype)
        if dtype == torch.bfloat16:
            tensor = tensor.view(torch.bfloat16)
        tensor = tensor.reshape(entry["shape"])
        if entry["dtype"] != want["dtype"] or list(tensor.shape) != want["shape"]:
            problems.append(f"{name}: {entry['dtype']} {list(tensor.shape)}, expected {want['dtype']} {want['shape']}")
            continue
        got = tensor.to(torch.float64).flatten()
        ref = torch.tensor(want["values"], dtype=torch.float64)
        if got.numel():
            err = (got - ref).abs().max().item()
            max_err = max(max_err, err)
            if err != 0:
                problems.append(f"{name}: max abs error {err}")
    print(f"safetensors_interop: read {len(header)} tensors written by dragon, max abs error {max_err}")
    for problem in problems:
        print("MISMATCH:", problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("write", "read"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else read)(sys.argv[2], sys.argv[3])
