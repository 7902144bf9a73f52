#!/usr/bin/env python3
"""How many candidates an exact two-pass asymmetric selection would have to rescore.

Design question for the GPU asymmetric estimate (issue 8, bench/results/2026-11-29-s6): score every
candidate first with integer tables (table entries quantized to `bits`, so that four heads' sums fit
16-bit lanes of two 32-bit adds, or one byte of code indexes one table), then rescore exactly, in
code_scores.h's float order, only the candidates that can still be in the top keep. With every
entry rounded to the nearest step, the integer score of a head is within B = tables * step / 2 of
its real-valued sum (plus float rounding, a few ulps), and so is the maximum over heads. The keep-th
largest approximate score T_a is then at most B above the exact one T_e, and every candidate of the
exact top keep (ties included) has approx >= T_e - B >= T_a - 2B: rescoring {approx >= T_a - 2B}
selects exactly.

Random Gaussian keys and queries (rotated, equal-mass 2-bit codes, per-bucket centroids as the
calibration of code_calibration.h fits them), so the counts are indicative, not a property of a
model. Usage: scripts/asym_two_pass_band.py [--seed N]
"""
import argparse

import numpy as np


def hadamard(x):
    """Rows of x rotated by the normalized Walsh-Hadamard transform (hadamard.h's butterfly order)."""
    h = x.copy()
    d = h.shape[1]
    span = 1
    while span < d:
        h = h.reshape(-1, d // (2 * span), 2, span)
        lo, hi = h[:, :, 0, :].copy(), h[:, :, 1, :].copy()
        h[:, :, 0, :], h[:, :, 1, :] = lo + hi, lo - hi
        h = h.reshape(-1, d)
        span *= 2
    return h / np.sqrt(d)


def codes_and_centroids(keys):
    thresholds = np.quantile(keys.ravel(), [0.25, 0.5, 0.75])
    codes = np.searchsorted(thresholds, keys, side="left")  # level = number of thresholds below x
    centroids = np.array([keys.ravel()[codes.ravel() == level].mean() for level in range(4)])
    return codes, centroids


def rescored(tables, index, keep, bits):
    """tables [heads][tables][entries], index [n][tables]: (candidates to rescore, worst error, bound)."""
    heads, count, _ = tables.shape
    exact = np.stack([tables[h][np.arange(count), index].sum(1) for h in range(heads)]).max(0)
    low = tables.min(2, keepdims=True)
    step = (tables.max(2, keepdims=True) - low).max() / (2**bits - 1)
    quantized = np.round((tables - low) / step)
    assert quantized.max(2).sum(1).max() < 65536, "sums must fit 16-bit lanes"
    approx = np.stack([quantized[h][np.arange(count), index].sum(1) * step + low[h].sum() for h in range(heads)]).max(0)
    bound = count * step / 2
    threshold = np.sort(approx)[::-1][keep - 1]
    return int((approx >= threshold - 2 * bound).sum()), float(np.abs(approx - exact).max()), bound


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    d, keep = 128, 255  # budget 256: 255 selected plus the current token
    print("| layout | tables per head | context | entry bits | worst error | bound B | rescored (keep 255) |")
    print("|---|---|---|---|---|---|---|")
    for heads, context in ((4, 32768), (4, 131072), (1, 32768), (1, 131072)):
        keys = hadamard(rng.standard_normal((context, d)) + 0.3 * rng.standard_normal((1, d)))
        queries = hadamard(rng.standard_normal((heads, d)))
        codes, centroids = codes_and_centroids(keys)
        if heads > 1:  # pair tables: one nibble (two coordinates) per entry, 64 tables, 16 entries
            tables = np.stack([queries[:, 0::2] * centroids[n & 3] + queries[:, 1::2] * centroids[n >> 2]
                               for n in range(16)], axis=2)
            index = codes[:, 0::2] + 4 * codes[:, 1::2]
            kind, bit_choices = "64 pair tables (16 entries)", (8, 10)
        else:  # byte tables: one code byte (four coordinates) per entry, 32 tables, 256 entries
            tables = np.stack([sum(queries[:, c::4] * centroids[(v >> (2 * c)) & 3] for c in range(4))
                               for v in range(256)], axis=2)
            index = codes[:, 0::4] + 4 * codes[:, 1::4] + 16 * codes[:, 2::4] + 64 * codes[:, 3::4]
            kind, bit_choices = "32 byte tables (256 entries)", (9, 10, 11)
        for bits in bit_choices:
            count, worst, bound = rescored(tables, index, keep, bits)
            print(f"| {heads} head{'s' if heads > 1 else ''} | {kind} | {context // 1024}K | {bits} | "
                  f"{worst:.3f} | {bound:.3f} | {count} of {context} |")


if __name__ == "__main__":
    main()
