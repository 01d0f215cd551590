#!/usr/bin/python3
"""Writes one tiny random Qwen3 model in BOTH formats, independently of dragon:

  OUT/hf/      config.json + model.safetensors (+ the real Qwen3 tokenizer files if available)
  OUT/model.gguf  the same f32 weights under llama.cpp's qwen3 names and keys, written with
                  llama.cpp's own gguf-py (GGUFWriter), tokenizer copied from ggml-vocab-qwen2.gguf

It is the ground truth for the oracle cross-check before `dragon synth` exists, and stays as an
independent check of dragon's HF -> GGUF converter afterwards (convert OUT/hf with dragon, compare
with OUT/model.gguf through the oracles).

  make_tiny_qwen3.py --out DIR [--seed 1] [--layers 2] [--hidden 64] [--heads 4] [--kv-heads 2]
                     [--head-dim 32] [--ffn 128] [--tied]

Sizes are chosen by default so that head_dim * heads != hidden (as in the real Qwen3-0.6B: 16 x 128
vs 1024) and heads != kv_heads (GQA), the two places a converter or kernel most easily goes wrong.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
from safetensors_io import write_safetensors  # noqa: E402


def llama_source_dir():
    return os.environ.get("DRAGON_LLAMA_SRC", os.path.join(REPO, "build", "llama.cpp"))


def import_gguf():
    sys.path.insert(0, os.path.join(llama_source_dir(), "gguf-py"))
    try:
        import gguf  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"make_tiny_qwen3: cannot import gguf-py from {llama_source_dir()}/gguf-py: {error}")
    return sys.modules["gguf"]


def random_weights(args, vocab_size, rng):
    """HF-named f32 weights. Scales keep every layer's output O(1) so logits are well spread."""
    q_dim = args.heads * args.head_dim
    kv_dim = args.kv_heads * args.head_dim

    def matrix(rows, cols):  # nn.Linear weight [out, in], std 1/sqrt(in)
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def norm(size):  # around 1, but not 1, so a forgotten norm weight shows up
        return (1.0 + 0.2 * rng.standard_normal(size)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((vocab_size, args.hidden)).astype(np.float32)}
    for i in range(args.layers):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(args.hidden)
        w[p + "self_attn.q_proj.weight"] = matrix(q_dim, args.hidden)
        w[p + "self_attn.k_proj.weight"] = matrix(kv_dim, args.hidden)
        w[p + "self_attn.v_proj.weight"] = matrix(kv_dim, args.hidden)
        w[p + "self_attn.o_proj.weight"] = matrix(args.hidden, q_dim)
        w[p + "self_attn.q_norm.weight"] = norm(args.head_dim)
        w[p + "self_attn.k_norm.weight"] = norm(args.head_dim)
        w[p + "post_attention_layernorm.weight"] = norm(args.hidden)
        w[p + "mlp.gate_proj.weight"] = matrix(args.ffn, args.hidden)
        w[p + "mlp.up_proj.weight"] = matrix(args.ffn, args.hidden)
        w[p + "mlp.down_proj.weight"] = matrix(args.hidden, args.ffn)
    w["model.norm.weight"] = norm(args.hidden)
    if not args.tied:
        w["lm_head.weight"] = matrix(vocab_size, args.hidden)
    return w


def hf_config(args, vocab_size):
    """Shaped like Qwen/Qwen3-0.6B's config.json, with the tiny sizes."""
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "head_dim": args.head_dim,
        "hidden_act": "silu",
        "hidden_size": args.hidden,
        "initializer_range": 0.02,
        "intermediate_size": args.ffn,
        "max_position_embeddings": 40960,
        "max_window_layers": args.layers,
        "model_type": "qwen3",
        "num_attention_heads": args.heads,
        "num_hidden_layers": args.layers,
        "num_key_value_heads": args.kv_heads,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": args.rope_theta,
        "sliding_window": None,
        "tie_word_embeddings": bool(args.tied),
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


# HF name -> llama.cpp GGUF name (llama-arch.cpp LLM_TENSOR_NAMES for LLM_ARCH_QWEN3).
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def gguf_name(hf_name):
    if hf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[hf_name]
    _, _, layer, rest = hf_name.split(".", 3)
    return f"blk.{layer}.{LAYER_NAMES[rest]}"


def tokenizer_fields(gguf, vocab_path):
    """(key, value, type, subtype) of every tokenizer.* key of a llama.cpp vocab file.

    Reads the GGUF metadata section directly: gguf-py's GGUFReader builds a numpy view per
    string and needs ~10 s for a 150k-token vocabulary; this takes well under a second."""
    import struct
    scalar_formats = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                      10: "<Q", 11: "<q", 12: "<d"}
    with open(vocab_path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def take_string():
        nonlocal pos
        length = take("<Q")
        pos += length
        return data[pos - length:pos].decode("utf-8")

    def take_value(value_type):
        if value_type == 8:
            return take_string()
        if value_type in scalar_formats:
            return take(scalar_formats[value_type])
        raise SystemExit(f"make_tiny_qwen3: {vocab_path}: unexpected GGUF value type {value_type} at offset {pos}")

    if data[:4] != b"GGUF":
        raise SystemExit(f"make_tiny_qwen3: {vocab_path}: not a GGUF file")
    pos = 4
    take("<I")  # version
    take("<Q")  # tensor count
    n_kv = take("<Q")
    fields = []
    for _ in range(n_kv):
        key = take_string()
        value_type = take("<I")
        if value_type == 9:  # array: element type, count, elements
            sub_type = take("<I")
            count = take("<Q")
            value = [take_value(sub_type) for _ in range(count)]
            entry = (key, value, gguf.GGUFValueType.ARRAY, gguf.GGUFValueType(sub_type))
        else:
            entry = (key, take_value(value_type), gguf.GGUFValueType(value_type), None)
        if key.startswith("tokenizer."):
            fields.append(entry)
    return fields


def pad_vocab(fields, vocab_size, gguf):
    """Pads tokens / token_type to vocab_size the way convert_hf_to_gguf.py does ([PADi], UNUSED)."""
    fields = [list(f) for f in fields]
    by_key = {f[0]: f for f in fields}
    tokens = by_key["tokenizer.ggml.tokens"][1]
    if len(tokens) > vocab_size:
        raise SystemExit(f"make_tiny_qwen3: tokenizer has {len(tokens)} tokens, more than vocab {vocab_size}")
    n_pad = vocab_size - len(tokens)
    by_key["tokenizer.ggml.tokens"][1] = tokens + [f"[PAD{i}]" for i in range(len(tokens), vocab_size)]
    if "tokenizer.ggml.token_type" in by_key:
        by_key["tokenizer.ggml.token_type"][1] = (list(by_key["tokenizer.ggml.token_type"][1])
                                                  + [int(gguf.TokenType.UNUSED)] * n_pad)
    return fields, n_pad


def write_gguf(path, args, config, weights, vocab_path, gguf):
    writer = gguf.GGUFWriter(path, "qwen3")
    writer.add_name(f"tiny-qwen3-seed{args.seed}")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(args.hidden)
    writer.add_block_count(args.layers)
    writer.add_feed_forward_length(args.ffn)
    writer.add_head_count(args.heads)
    writer.add_head_count_kv(args.kv_heads)
    writer.add_key_length(args.head_dim)
    writer.add_value_length(args.head_dim)
    writer.add_rope_freq_base(float(args.rope_theta))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    fields, n_pad = pad_vocab(tokenizer_fields(gguf, vocab_path), config["vocab_size"], gguf)
    for key, value, value_type, sub_type in fields:
        writer.add_key_value(key, value, value_type, sub_type)
    for name, array in weights.items():
        writer.add_tensor(gguf_name(name), array)  # numpy [out, in] -> GGUF ne = [in, out]
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return n_pad


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=32)
    parser.add_argument("--ffn", type=int, default=128)
    parser.add_argument("--rope-theta", type=float, default=1000000.0)
    parser.add_argument("--vocab", type=int, default=151936, help="vocab_size (Qwen3's; padded past the tokenizer)")
    parser.add_argument("--tied", action="store_true", help="tie lm_head to the embedding")
    args = parser.parse_args()
    if args.heads % args.kv_heads:
        raise SystemExit("make_tiny_qwen3: --heads must be a multiple of --kv-heads")

    gguf = import_gguf()
    vocab_path = os.path.join(REPO, "build", "share", "tokenizers", "ggml-vocab-qwen2.gguf")
    if not os.path.exists(vocab_path):
        vocab_path = os.path.join(llama_source_dir(), "models", "ggml-vocab-qwen2.gguf")

    rng = np.random.default_rng(args.seed)
    config = hf_config(args, args.vocab)
    weights = random_weights(args, args.vocab, rng)

    hf_dir = os.path.join(args.out, "hf")
    os.makedirs(hf_dir, exist_ok=True)
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(hf_dir, "model.safetensors"), weights, {"format": "pt"})
    tokenizer_dir = os.path.join(REPO, "build", "share", "tokenizers", "qwen3")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(tokenizer_dir, name)):
            shutil.copy(os.path.join(tokenizer_dir, name), hf_dir)

    n_pad = write_gguf(os.path.join(args.out, "model.gguf"), args, config, weights, vocab_path, gguf)
    n_params = sum(a.size for a in weights.values())
    print(f"make_tiny_qwen3: {args.out}: {args.layers} layers, hidden {args.hidden}, heads {args.heads}/"
          f"{args.kv_heads} x {args.head_dim}, ffn {args.ffn}, vocab {args.vocab} ({n_pad} padding), "
          f"{'tied' if args.tied else 'untied'}, {n_params} parameters")


if __name__ == "__main__":
    main()
