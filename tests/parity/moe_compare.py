#!/usr/bin/python3
"""The PyTorch reference's expert routing, for comparison with dragon's.

  moe_compare.py routing --model HF_DIR --tokens 1,2,3 --out ROUTING.json [--dtype float64]

Runs the family's reference forward (tests/reference/families, chosen by config.json
"architectures") with families.moe_common.ROUTING_TRACE set, and writes
{"layers": [{"experts": [[e, ...] per token], "weights": [[w, ...] per token]}, ...]}, one entry
per MoE layer in layer order, each token's experts in descending routing score.
tests/models/moe_reference_test.cc reads it.
"""
import argparse
import importlib
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

from families import moe_common  # noqa: E402
from families.registry import ARCHITECTURES  # noqa: E402
from safetensors_io import HfWeights, load_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["routing"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    args = ap.parse_args()

    config = load_config(args.model)
    arch = (config.get("architectures") or [""])[0]
    if arch not in ARCHITECTURES:
        sys.exit(f"moe_compare: {args.model}: architecture {arch} has no reference family")
    family = importlib.import_module(f"families.{ARCHITECTURES[arch]}")
    tokens = [int(t) for t in args.tokens.split(",")]
    moe_common.ROUTING_TRACE = []
    with torch.no_grad():
        family.forward(config, HfWeights(args.model, config), tokens, getattr(torch, args.dtype))
    if not moe_common.ROUTING_TRACE:
        sys.exit(f"moe_compare: {args.model}: {arch} recorded no MoE routing")
    layers = []
    for selected, weights in moe_common.ROUTING_TRACE:
        # Order each token's experts by weight, descending: dragon lists them by routing score,
        # which orders the weights the same way (the bias, where there is one, only chooses).
        order = torch.argsort(weights, dim=-1, descending=True)
        layers.append({"experts": torch.gather(selected, -1, order).tolist(),
                       "weights": torch.gather(weights, -1, order).tolist()})
    with open(args.out, "w") as f:
        json.dump({"layers": layers}, f)
    print(f"moe_compare: {len(layers)} MoE layers x {len(tokens)} tokens -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
