#!/usr/bin/python3
"""A small GGUF reader for tests on files with 150k-token vocabularies, where gguf-py's
GGUFReader (one numpy view per array element) takes tens of seconds on a loaded machine.
Returns each metadata key's raw value bytes and type, and the tensor infos.

  from gguf_quick import read_gguf
  g = read_gguf(path)
  g.kv["tokenizer.ggml.pre"] -> (type_id, raw bytes);  g.string("tokenizer.ggml.pre") -> "qwen2"
  g.tensors -> [(name, ggml_type, ne list, bytes)]
"""
import struct

_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> size
STRING, ARRAY = 8, 9
GGML = {"F32": 0, "F16": 1, "Q5_0": 6, "Q8_0": 8, "Q4_K": 12, "Q6_K": 14, "BF16": 30}


class Gguf:
    def __init__(self, kv, tensors):
        self.kv, self.tensors = kv, tensors

    def string(self, key):
        t, raw = self.kv[key]
        assert t == STRING, f"{key} is not a string"
        return raw[8:].decode()

    def u32(self, key):
        return struct.unpack("<I", self.kv[key][1])[0]

    def array_len(self, key):
        return struct.unpack_from("<Q", self.kv[key][1], 4)[0]


def _skip(data, pos, t):
    if t in _FIXED:
        return pos + _FIXED[t]
    if t == STRING:
        return pos + 8 + struct.unpack_from("<Q", data, pos)[0]
    if t == ARRAY:
        et, n = struct.unpack_from("<IQ", data, pos)
        pos += 12
        if et in _FIXED:
            return pos + n * _FIXED[et]
        for _ in range(n):
            pos = _skip(data, pos, et)
        return pos
    raise ValueError(f"unknown GGUF value type {t}")


def read_gguf(path):
    data = open(path, "rb").read()
    magic, _version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF", f"{path}: not a GGUF file"
    pos, kv = 24, {}
    for _ in range(n_kv):
        n = struct.unpack_from("<Q", data, pos)[0]
        key = data[pos + 8:pos + 8 + n].decode()
        t = struct.unpack_from("<I", data, pos + 8 + n)[0]
        start = pos + 12 + n
        pos = _skip(data, start, t)
        kv[key] = (t, data[start:pos])
    infos = []
    for _ in range(n_tensors):
        n = struct.unpack_from("<Q", data, pos)[0]
        name = data[pos + 8:pos + 8 + n].decode()
        pos += 8 + n
        n_dims = struct.unpack_from("<I", data, pos)[0]
        ne = list(struct.unpack_from(f"<{n_dims}Q", data, pos + 4))
        pos += 4 + 8 * n_dims
        ggml_type, offset = struct.unpack_from("<IQ", data, pos)
        pos += 12
        infos.append((name, ggml_type, ne, offset))
    align = struct.unpack("<I", kv["general.alignment"][1])[0] if "general.alignment" in kv else 32
    base = (pos + align - 1) // align * align
    ends = sorted(o for *_, o in infos)[1:] + [len(data) - base]
    end_of = dict(zip(sorted(o for *_, o in infos), ends))
    # A tensor's bytes run to the next tensor (alignment padding included: zeros in both writers).
    tensors = [(name, t, ne, data[base + o:base + end_of[o]]) for name, t, ne, o in infos]
    return Gguf(kv, tensors)
