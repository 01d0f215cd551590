#!/usr/bin/python3
"""PyTorch reference logits for an HF model directory — the second, independent oracle.

  reference_logits.py --model HF_DIR --tokens 1,2,3 --out logits.f32 [--dtype float32|float64]
                      [--print-top K] [--mtp]

Writes n_tokens x vocab_size float32 little-endian, row-major (row i = logits after token i),
the same format as tests/oracle/llama_oracle. --mtp: the logits of the first MTP layer instead
(families with forward_mtp; row i reads position i's hidden state and token i + 1: n_tokens - 1 rows). The forward pass is chosen by config.json
"architectures"[0] through families/registry.py; each family is one file in families/.
Errors: one line on stderr naming the file / tensor / key, exit 1.
"""
import argparse
import importlib
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from families.registry import ARCHITECTURES  # noqa: E402
from safetensors_io import HfWeights, load_config  # noqa: E402


def parse_tokens(text, vocab_size):
    try:
        tokens = [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise SystemExit(f"reference_logits: --tokens: expected comma-separated integers, got '{text}'")
    if not tokens:
        raise SystemExit("reference_logits: --tokens: no tokens")
    for index, token in enumerate(tokens):
        if not 0 <= token < vocab_size:
            raise SystemExit(f"reference_logits: --tokens: token {token} at index {index} is outside "
                             f"the vocabulary [0, {vocab_size})")
    return tokens


def family_for(config, model_dir):
    architectures = config.get("architectures") or []
    if not architectures:
        raise SystemExit(f"reference_logits: {model_dir}/config.json: no \"architectures\" entry")
    name = ARCHITECTURES.get(architectures[0])
    if name is None:
        raise SystemExit(f"reference_logits: {model_dir}/config.json: architecture {architectures[0]} has no "
                         f"reference family (known: {', '.join(sorted(ARCHITECTURES))})")
    return importlib.import_module(f"families.{name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="HF model directory (config.json + *.safetensors)")
    parser.add_argument("--tokens", required=True, help="comma-separated token ids")
    parser.add_argument("--out", help="where to write the logits (float32 LE, n_tokens x vocab)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--print-top", type=int, default=0, help="print the top K logits per position")
    parser.add_argument("--mtp", action="store_true", help="the MTP layer's logits (n_tokens - 1 rows)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        config = load_config(args.model)
        family = family_for(config, args.model)
        weights = HfWeights(args.model, config)
        # Multimodal configs (Qwen3.5) keep the text model's keys in text_config.
        vocab_size = (config.get("text_config") or config)["vocab_size"]
        tokens = parse_tokens(args.tokens, vocab_size)
        start = time.time()
        with torch.no_grad():
            if args.mtp:
                if not hasattr(family, "forward_mtp"):
                    raise NotImplementedError(f"{family.__name__} has no MTP reference")
                logits = family.forward_mtp(config, weights, tokens, getattr(torch, args.dtype))
            else:
                logits = family.forward(config, weights, tokens, getattr(torch, args.dtype))
        elapsed = time.time() - start
    except (OSError, ValueError, KeyError, NotImplementedError) as error:
        raise SystemExit(f"reference_logits: {args.model}: {type(error).__name__}: {error}")

    expected = (len(tokens) - (1 if args.mtp else 0), vocab_size)
    if tuple(logits.shape) != expected:
        raise SystemExit(f"reference_logits: family returned logits of shape {list(logits.shape)}, "
                         f"expected {list(expected)}")
    print(f"reference_logits: {len(tokens)} tokens, vocab {vocab_size}, {args.dtype}, "
          f"{elapsed:.2f} s", file=sys.stderr)
    if args.out:
        logits.to(torch.float32).numpy().astype("<f4").tofile(args.out)
    if args.print_top > 0:
        values, ids = torch.topk(logits, min(args.print_top, logits.shape[1]), dim=-1)
        for pos in range(logits.shape[0]):
            print(f"pos {pos}: " + " ".join(f"{int(i)}({float(v):.5f})" for i, v in zip(ids[pos], values[pos])))


if __name__ == "__main__":
    main()
