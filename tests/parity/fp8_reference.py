#!/usr/bin/python3
"""Independent reference for dragon's FP8 code (src/tensor/fp8.cc), run by tests/tensor/fp8_test.cc.

PyTorch 1.13 has no float8 dtypes, so the semantics of torch.float8_e4m3fn / float8_e5m2 are
rebuilt here from their bit definitions with numpy:
  e4m3fn: 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is subnormal; no
          infinities; only S.1111.111 is NaN, so the largest finite value is 1.75 * 2^8 = 448.
  e5m2:   1 sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-style inf and NaN.
DeepSeek-V3's block quantizer (inference/kernel.py weight_quant): per 128x128 block
scale = amax / 448 in float32 and code = e4m3(x / scale); the checkpoint stores the scale as
"weight_scale_inv" and weight_dequant computes code * scale.

Usage: fp8_reference.py WORKDIR
  reads  WORKDIR/params.json {"rows", "cols", "block"}, codes.u8 (rows*cols), scales.f32
         (ceil(rows/block) * ceil(cols/block)), values.f32 (rows*cols)
  writes WORKDIR/e4m3_table.f32, e5m2_table.f32 (256 each), dequant.f32 (rows*cols),
         quant_codes.u8 (rows*cols), quant_scales.f32
"""
import json
import os
import sys

import numpy as np


def fp8_table(exponent_bits, mantissa_bits, bias, ieee_specials):
    values = np.zeros(256, dtype=np.float64)
    top = (1 << exponent_bits) - 1
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exponent = (code >> mantissa_bits) & top
        mantissa = code & ((1 << mantissa_bits) - 1)
        fraction = mantissa / float(1 << mantissa_bits)
        if exponent == top and ieee_specials:
            values[code] = sign * np.inf if mantissa == 0 else np.nan
        elif exponent == top and mantissa == (1 << mantissa_bits) - 1 and not ieee_specials:
            values[code] = np.nan
        elif exponent == 0:
            values[code] = sign * fraction * 2.0 ** (1 - bias)
        else:
            values[code] = sign * (1.0 + fraction) * 2.0 ** (exponent - bias)
    return values


E4M3 = fp8_table(4, 3, 7, ieee_specials=False)
E5M2 = fp8_table(5, 2, 15, ieee_specials=True)
POSITIVE_E4M3 = E4M3[:0x7F]  # codes 0..126: every finite non-negative value, increasing


def to_e4m3(values):
    """float32 array -> e4m3fn codes: nearest value, ties to the even code, saturating at 448."""
    values = np.asarray(values, dtype=np.float32)
    magnitude = np.abs(values.astype(np.float64))
    upper = np.clip(np.searchsorted(POSITIVE_E4M3, magnitude), 1, 126)  # first value >= magnitude
    lower = upper - 1
    to_lower = magnitude - POSITIVE_E4M3[lower]
    to_upper = POSITIVE_E4M3[upper] - magnitude
    pick_upper = (to_upper < to_lower) | ((to_upper == to_lower) & (upper % 2 == 0))
    codes = np.where(pick_upper, upper, lower)
    codes = np.where(magnitude >= 448.0, 0x7E, codes)
    codes = np.where(np.isnan(values), 0x7F, codes).astype(np.uint8)
    return codes | np.where(np.signbit(values), 0x80, 0).astype(np.uint8)


def blocks(rows, cols, block):
    for br in range(-(-rows // block)):
        for bc in range(-(-cols // block)):
            yield br, bc, slice(br * block, min(rows, (br + 1) * block)), slice(bc * block, min(cols, (bc + 1) * block))


def dequantize(codes, scales, block):
    rows, cols = codes.shape
    out = np.zeros((rows, cols), dtype=np.float32)
    for br, bc, rs, cs in blocks(rows, cols, block):
        # e4m3 value (4 significant bits) * float32 scale (24) is exact in float64: one rounding.
        out[rs, cs] = (E4M3[codes[rs, cs]] * np.float64(scales[br, bc])).astype(np.float32)
    return out


def quantize(values, block):
    rows, cols = values.shape
    codes = np.zeros((rows, cols), dtype=np.uint8)
    scales = np.zeros((-(-rows // block), -(-cols // block)), dtype=np.float32)
    for br, bc, rs, cs in blocks(rows, cols, block):
        scale = np.float32(np.abs(values[rs, cs]).max()) / np.float32(448.0)
        scales[br, bc] = scale
        if scale != 0:
            codes[rs, cs] = to_e4m3(values[rs, cs] / scale)  # float32 division, as torch does
    return codes, scales


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    work = sys.argv[1]
    with open(os.path.join(work, "params.json")) as f:
        params = json.load(f)
    rows, cols, block = params["rows"], params["cols"], params["block"]
    scale_shape = (-(-rows // block), -(-cols // block))
    codes = np.fromfile(os.path.join(work, "codes.u8"), dtype=np.uint8).reshape(rows, cols)
    scales = np.fromfile(os.path.join(work, "scales.f32"), dtype="<f4").reshape(scale_shape)
    values = np.fromfile(os.path.join(work, "values.f32"), dtype="<f4").reshape(rows, cols)

    E4M3.astype("<f4").tofile(os.path.join(work, "e4m3_table.f32"))
    E5M2.astype("<f4").tofile(os.path.join(work, "e5m2_table.f32"))
    dequantize(codes, scales, block).astype("<f4").tofile(os.path.join(work, "dequant.f32"))
    quant_codes, quant_scales = quantize(values, block)
    quant_codes.tofile(os.path.join(work, "quant_codes.u8"))
    quant_scales.astype("<f4").tofile(os.path.join(work, "quant_scales.f32"))
    print(f"fp8_reference: tables, {rows}x{cols} block-{block} dequantization and quantization written")


if __name__ == "__main__":
    main()
