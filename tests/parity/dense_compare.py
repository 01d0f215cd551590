#!/usr/bin/python3
"""Compares dragon's logits with an oracle's (both float32 n_tokens x vocab, row-major).

  dense_compare.py TEST REFERENCE --tokens N --vocab V --label L
      [--max-rel-rmse X]           relative RMSE ||test - ref|| / ||ref|| must be <= X
      [--min-argmax F]             fraction of positions whose argmax agrees (default 1.0)
      [--tie-gap G]                positions where the reference's top-2 gap is below G are
                                   near-ties decided by rounding noise: reported, not counted
      [--truth T --other O --max-kl-ratio R]
                                   mean KL(softmax(T) || softmax(TEST)) must be <= R times
                                   mean KL(softmax(T) || softmax(O)) (dragon vs llama.cpp on the
                                   same quantized file, both measured against the f32 truth)
      [--kl-statistic mean|median] the per-position KL statistic the ratio uses (default mean).
                                   MoE checks use the median: in a random MoE a router near-tie
                                   that summation order tips one way or the other swaps experts at
                                   that position, whichever engine does it; the median measures
                                   quantization fidelity, the mean is printed beside it
Prints every figure it measures; exits 1 on a failed bound.
"""
import argparse
import sys

import numpy as np


def load(path, n, v):
    data = np.fromfile(path, dtype="<f4")
    if data.size != n * v:
        sys.exit(f"{path}: {data.size} floats, expected {n} x {v}")
    return data.reshape(n, v).astype(np.float64)


def kl_per_position(p_logits, q_logits):
    def log_softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    lp, lq = log_softmax(p_logits), log_softmax(q_logits)
    return (np.exp(lp) * (lp - lq)).sum(axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test")
    ap.add_argument("reference")
    ap.add_argument("--tokens", type=int, required=True)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--label", default="compare")
    ap.add_argument("--max-rel-rmse", type=float, default=None)
    ap.add_argument("--min-argmax", type=float, default=1.0)
    ap.add_argument("--tie-gap", type=float, default=0.0)
    ap.add_argument("--truth")
    ap.add_argument("--other")
    ap.add_argument("--max-kl-ratio", type=float, default=1.1)
    ap.add_argument("--kl-statistic", choices=["mean", "median"], default="mean")
    a = ap.parse_args()

    test, ref = load(a.test, a.tokens, a.vocab), load(a.reference, a.tokens, a.vocab)
    ok = bool(np.isfinite(test).all())
    rel = float(np.sqrt(((test - ref) ** 2).sum() / (ref ** 2).sum()))
    max_abs = float(np.abs(test - ref).max())
    top2 = np.sort(ref, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    agree = test.argmax(axis=1) == ref.argmax(axis=1)
    ties = (~agree) & (gap < a.tie_gap)
    counted = int(agree.sum() + ties.sum())
    frac = counted / a.tokens
    line = (f"{a.label}: rel RMSE {rel:.3e}, max abs error {max_abs:.3e}, argmax agreement "
            f"{int(agree.sum())}/{a.tokens}")
    if a.tie_gap > 0:
        line += f" (+{int(ties.sum())} near-ties with top-2 gap < {a.tie_gap:g})"
    if a.max_rel_rmse is not None:
        line += f", bound rel RMSE {a.max_rel_rmse:g}"
        ok &= rel <= a.max_rel_rmse
    line += f", bound argmax {a.min_argmax:.0%}"
    ok &= frac >= a.min_argmax
    for pos in np.nonzero(~agree)[0][:8]:
        print(f"  position {pos}: test argmax {test[pos].argmax()}, reference argmax {ref[pos].argmax()} "
              f"(reference top-2 gap {gap[pos]:.3e})")
    if a.truth:
        truth, other = load(a.truth, a.tokens, a.vocab), load(a.other, a.tokens, a.vocab)
        per_test, per_other = kl_per_position(truth, test), kl_per_position(truth, other)
        kl_test, kl_other = float(per_test.mean()), float(per_other.mean())
        line += (f"; mean KL vs f32 truth: dragon {kl_test:.3e}, llama.cpp {kl_other:.3e} "
                 f"(ratio {kl_test / kl_other:.3f}")
        if a.kl_statistic == "median":
            kl_test, kl_other = float(np.median(per_test)), float(np.median(per_other))
            line += f"); median KL: dragon {kl_test:.3e}, llama.cpp {kl_other:.3e} (ratio {kl_test / kl_other:.3f}"
        line += f", bound {a.max_kl_ratio:g} on the {a.kl_statistic})"
        ok &= kl_test <= a.max_kl_ratio * kl_other
    print(("PASS " if ok else "FAIL ") + line)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
