#!/usr/bin/env python3
"""Summarize kernel timelines written by `adamas bench-e2e --timeline PREFIX` (JSON lines, one kernel
each; src/cuda/kernel_timeline.h): per kernel kind, how many ran, their GPU time and mean, and the
time each kind finished: a kernel's `exposed` time is its end minus the latest end before it, or
minus its start where that is later, so the exposed times and the idle time (no kernel running) add
up to the replay's span. Kernels overlap under programmatic launch (a product's blocks start while
the kernel before it ends) and on the graph's side branches (the cache append beside the output
product), so their own times add up to more than the span; a side kernel that ends first is given
the time it shared.

usage: bench/timeline_summary.py FILE.jsonl [FILE.jsonl ...]
"""
import collections
import json
import re
import sys

GEMV_EPILOGUES = {"0": "store", "1": "accumulate", "2": "swiglu", "3": "rope_split"}


def kind(name):
    """Kernel name without namespaces and template arguments; products keep their epilogue."""
    base = re.sub(r"^void\s+", "", name.split("<")[0])
    base = base.split("::")[-1]
    if base == "gemv_bf16_kernel":
        m = re.search(r"GemvEpilogue\)(\d+)", name)
        return "gemv " + GEMV_EPILOGUES.get(m.group(1), m.group(1)) if m else base
    return base


def summarize(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if not rows:
        print(f"{path}: no kernels")
        return
    span = max(r["end_us"] for r in rows) - min(r["start_us"] for r in rows)
    totals = collections.defaultdict(lambda: [0, 0.0, 0.0])
    latest_end = min(r["start_us"] for r in rows)
    for r in sorted(rows, key=lambda r: r["end_us"]):
        t = totals[kind(r["name"])]
        t[0] += 1
        t[1] += r["us"]
        t[2] += r["end_us"] - max(latest_end, r["start_us"])
        latest_end = r["end_us"]
    idle, reach = 0.0, min(r["start_us"] for r in rows)  # time no kernel covers
    for r in sorted(rows, key=lambda r: r["start_us"]):
        idle += max(0.0, r["start_us"] - reach)
        reach = max(reach, r["end_us"])
    print(f"{path}: {len(rows)} kernels, span {span:.1f} us, idle {idle:.1f} us")
    print(f"  {'kernel':32s} {'count':>5s} {'total us':>10s} {'mean us':>9s} {'exposed us':>11s} {'of span':>8s}")
    for name, (count, total, exposed) in sorted(totals.items(), key=lambda kv: -kv[1][2]):
        print(f"  {name:32s} {count:5d} {total:10.1f} {total / count:9.2f} {exposed:11.1f} {100 * exposed / span:7.1f}%")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        summarize(p)
