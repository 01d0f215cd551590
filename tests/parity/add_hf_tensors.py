#!/usr/bin/python3
"""Adds tensors to an HF model directory the way a bigger real download has them: a new shard
extra.safetensors and a model.safetensors.index.json mapping every tensor to its file.

  add_hf_tensors.py HF_DIR NAME[,NAME...]     (each a small [4, 4] float32 tensor)

Used by run_qwen35_parity.sh to give a synthetic Qwen3.5 directory the vision tower and MTP
tensors of the real checkpoints (dragon must skip them) or a stray text tensor (a clear error)."""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from safetensors_io import write_safetensors  # noqa: E402


def names_in(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return [k for k in json.loads(f.read(n)) if k != "__metadata__"]


def main():
    model_dir, names = sys.argv[1], sys.argv[2].split(",")
    index_path = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    else:
        index = {"metadata": {}, "weight_map": {n: "model.safetensors" for n in names_in(
            os.path.join(model_dir, "model.safetensors"))}}
    extra = {name: np.full((4, 4), 0.5, dtype=np.float32) for name in names}
    shard = f"extra-{len(set(index['weight_map'].values()))}.safetensors"
    write_safetensors(os.path.join(model_dir, shard), extra)
    index["weight_map"].update({name: shard for name in names})
    with open(index_path, "w") as f:
        json.dump(index, f, indent=2)


if __name__ == "__main__":
    main()
