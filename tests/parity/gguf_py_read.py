#!/usr/bin/python3
"""Reads a GGUF (written by dragon) with llama.cpp's gguf-py GGUFReader and prints what it saw
as JSON on stdout, for tests/io/gguf_interop_test.cc to compare with what dragon wrote.

usage: gguf_py_read.py <gguf-py dir> <file.gguf>

GGUFReader flattens nested arrays, so each field is reported the way it sees it:
  {"key", "types": [outer type, element type, ...], "leaves": [every scalar in order]}
Tensors: {"name", "type", "ne" (innermost first, as stored), "n_bytes", "data_offset", "hex"}.
"""
import json
import sys


def main():
    gguf_py_dir, path = sys.argv[1:3]
    sys.path.insert(0, gguf_py_dir)
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(path)
    fields = []
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):  # the header, which GGUFReader lists as pseudo-fields
            continue
        leaves = []
        for index in field.data:
            part = field.parts[index]
            if field.types[-1] == GGUFValueType.STRING:
                leaves.append(bytes(part).decode("utf-8"))
            else:
                leaves.append(part.tolist()[0])
        fields.append({"key": key, "types": [t.name for t in field.types], "leaves": leaves})

    tensors = [{
        "name": t.name,
        "type": t.tensor_type.name,
        "ne": [int(d) for d in t.shape],
        "n_bytes": int(t.n_bytes),
        "data_offset": int(t.data_offset),
        "hex": t.data.tobytes().hex(),
    } for t in reader.tensors]

    json.dump({"alignment": int(reader.alignment), "data_offset": int(reader.data_offset),
               "fields": fields, "tensors": tensors}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
