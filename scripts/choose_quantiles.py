#!/usr/bin/env python3
"""Prints the calibration quantiles chosen on validation text (the calib stage of scripts/eval_grid.sh
and the first session's scripts/run_evals.sh): the set whose perplexity is closest to full attention's, mean
|log ppl - log ppl_full| over budgets 64 and 256. Not the lowest perplexity: a selector that goes below
full attention has changed the model's computation rather than approximated it.

usage: scripts/choose_quantiles.py CALIB_DIR   (holds full.json and adamas_q<q>_b<budget>.json)"""
import json
import math
import sys

CANDIDATES = ["0.25,0.5,0.75", "0.1,0.5,0.9", "0.02,0.5,0.98"]


def main():
    d = sys.argv[1]
    full = math.log(json.load(open(f"{d}/full.json"))["perplexity"])
    best = None
    for q in CANDIDATES:
        tag = q.replace(",", "_")
        score = sum(abs(math.log(json.load(open(f"{d}/adamas_q{tag}_b{b}.json"))["perplexity"]) - full)
                    for b in (64, 256))
        if best is None or score < best[0]:
            best = (score, q)
    print(best[1])


if __name__ == "__main__":
    main()
