#!/usr/bin/python3
"""Checks on logits files (n_tokens x n_vocab float32 little-endian, row-major), as written by
llama_oracle, reference_logits.py and dragon. Prints what it measured; exit 1 on failure.

  logits_check.py sanity  FILE --tokens N --vocab V
      size = N*V*4, all finite, every position's std > --min-std, argmax not constant.
  logits_check.py compare TEST REFERENCE --tokens N --vocab V [--max-rel-rmse 1e-3]
      relative RMSE = rms(TEST - REFERENCE) / rms(REFERENCE), max abs error, argmax agreement;
      passes if rel RMSE <= the bound and the argmax agrees at every position.
"""
import argparse
import os
import sys

import numpy as np


def load(path, n_tokens, n_vocab):
    expected = n_tokens * n_vocab * 4
    size = os.path.getsize(path)
    if size != expected:
        print(f"FAIL {path}: {size} bytes, expected {n_tokens} x {n_vocab} x 4 = {expected}")
        sys.exit(1)
    return np.fromfile(path, dtype="<f4").reshape(n_tokens, n_vocab).astype(np.float64)


def sanity(args):
    logits = load(args.file, args.tokens, args.vocab)
    failures = []
    n_nonfinite = int((~np.isfinite(logits)).sum())
    if n_nonfinite:
        failures.append(f"{n_nonfinite} non-finite values")
    stds = logits.std(axis=1)
    argmaxes = logits.argmax(axis=1)
    n_distinct = len(set(argmaxes.tolist()))
    print(f"{args.file}: {args.tokens} x {args.vocab}, non-finite {n_nonfinite}, per-position std "
          f"min {stds.min():.4f} max {stds.max():.4f}, {n_distinct} distinct argmax over {args.tokens} positions")
    if stds.min() <= args.min_std:
        failures.append(f"position {int(stds.argmin())} has std {stds.min():.3g} <= {args.min_std}")
    if args.tokens > 1 and n_distinct == 1:
        failures.append(f"argmax is {int(argmaxes[0])} at every position")
    for failure in failures:
        print(f"FAIL {args.file}: {failure}")
    return not failures


def compare(args):
    test = load(args.test, args.tokens, args.vocab)
    reference = load(args.reference, args.tokens, args.vocab)
    if not np.isfinite(test).all() or not np.isfinite(reference).all():
        print(f"FAIL non-finite logits (test {int((~np.isfinite(test)).sum())}, "
              f"reference {int((~np.isfinite(reference)).sum())})")
        return False
    error = test - reference
    rel_rmse = np.sqrt(np.mean(error ** 2)) / np.sqrt(np.mean(reference ** 2))
    max_abs = np.abs(error).max()
    test_argmax = test.argmax(axis=1)
    ref_argmax = reference.argmax(axis=1)
    disagree = np.nonzero(test_argmax != ref_argmax)[0]
    label = args.label or os.path.basename(args.test)
    print(f"{label}: rel RMSE {rel_rmse:.3e} (bound {args.max_rel_rmse:.0e}), max abs error {max_abs:.3e}, "
          f"argmax agreement {args.tokens - len(disagree)}/{args.tokens}")
    ok = rel_rmse <= args.max_rel_rmse and len(disagree) == 0
    for pos in disagree[:5]:
        top2 = np.sort(reference[pos])[-2:]
        print(f"  position {pos}: test argmax {test_argmax[pos]}, reference argmax {ref_argmax[pos]} "
              f"(reference top-2 gap {top2[1] - top2[0]:.3e})")
    if not ok:
        print(f"FAIL {label}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sanity")
    p.add_argument("file")
    p.add_argument("--min-std", type=float, default=0.05)
    p = sub.add_parser("compare")
    p.add_argument("test")
    p.add_argument("reference")
    p.add_argument("--max-rel-rmse", type=float, default=1e-3)
    p.add_argument("--label", default="")
    for p in sub.choices.values():
        p.add_argument("--tokens", type=int, required=True, help="number of positions")
        p.add_argument("--vocab", type=int, required=True, help="vocabulary size")
    args = parser.parse_args()
    ok = sanity(args) if args.command == "sanity" else compare(args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
