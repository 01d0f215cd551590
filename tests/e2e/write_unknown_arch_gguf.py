#!/usr/bin/python3
"""Writes a small GGUF with llama.cpp's gguf-py for an architecture dragon does not support
("bert"), so `dragon info` can be checked to print the file-level facts and say so.

usage: write_unknown_arch_gguf.py <gguf-py dir> <out.gguf>
"""
import sys


def main():
    gguf_py_dir, out_path = sys.argv[1:3]
    sys.path.insert(0, gguf_py_dir)
    import numpy as np
    import gguf

    w = gguf.GGUFWriter(out_path, arch="bert")
    w.add_name("unknown-arch test file")
    w.add_block_count(1)
    w.add_embedding_length(8)
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((16, 8)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((8, 8)).astype(np.float16))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(8, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
