#!/usr/bin/env python3
"""Table and plot of the end-to-end decode sweep (bench/run_e2e_suite.sh).

usage: python3 bench/plot_e2e.py RESULTS_DIR OUT_DIR
Reads every e2e_*.json (adamas bench-e2e --json) in RESULTS_DIR; writes OUT_DIR/e2e_table.md (one
row per configuration, skipped ones included) and OUT_DIR/e2e_tokens_per_s.png (tokens/s against
context per shape and batch, the decoder's choice of weight products; full attention and adamas
per budget)."""
import glob
import json
import os
import sys


def load(results_dir):
    rows, device, copy = [], "?", 0.0
    for path in sorted(glob.glob(os.path.join(results_dir, "e2e_*.json"))):
        try:
            with open(path) as f:
                report = json.load(f)
        except (json.JSONDecodeError, OSError):
            print(f"{path}: no JSON (the call timed out?); its log has the finished rows", file=sys.stderr)
            continue
        device, copy = report["device"], report["copy_gb_per_s"]
        for r in report["rows"]:
            r["source"] = os.path.basename(path)
            rows.append(r)
    return rows, device, copy


def table(rows, device, copy):
    lines = [f"device: {device}; copy bandwidth {copy:.0f} GB/s (read + written); ms/token: median CUDA-graph replay",
             "",
             "| shape | batch | context | policy | budget | gemv | ms/token step | tokens/s | weight products ms | attention ms | rest ms | GB read/step | GB/s | speedup vs full |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    key = lambda r: (r["shape"], r["batch"], r["context"], r["gemv"], r["policy"] != "full", r["budget"])
    for r in sorted(rows, key=key):
        budget = "-" if r["policy"] == "full" else str(r["budget"])
        head = f"| {r['shape']} | {r['batch']} | {r['context']} | {r['policy']} | {budget} | {r['gemv']} |"
        if r["skipped"]:
            lines.append(head + " skipped: cache does not fit | | | | | | | |")
            continue
        lines.append(head + f" {r['ms_per_step']:.2f} | {r['tokens_per_second']:.1f} | {r['matmul_ms']:.2f} |"
                     f" {r['attention_ms']:.2f} | {r['other_ms']:.2f} | {r['bytes_per_step'] / 1e9:.2f} |"
                     f" {r['achieved_gb_per_s']:.0f} | {r['speedup_vs_full']:.2f}x |")
    return "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if not r["skipped"] and "gemv_ab" not in r["source"]]  # the sweep, not the A/B
    shapes = sorted({r["shape"] for r in rows})
    batches = sorted({r["batch"] for r in rows})
    if not shapes or not batches:
        return
    fig, axes = plt.subplots(len(shapes), len(batches), figsize=(4.5 * len(batches), 3.6 * len(shapes)), squeeze=False)
    for i, shape in enumerate(shapes):
        for j, batch in enumerate(batches):
            ax = axes[i][j]
            cell = [r for r in rows if r["shape"] == shape and r["batch"] == batch]
            series = sorted({(r["policy"], r["budget"]) for r in cell}, key=lambda s: (s[0] != "full", s[1]))
            for policy, budget in series:
                points = sorted((r["context"], r["tokens_per_second"]) for r in cell
                                if r["policy"] == policy and r["budget"] == budget)
                label = "full" if policy == "full" else f"{policy} {budget}"
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label,
                        linestyle="--" if policy == "full" else "-")
            ax.set_xscale("log", base=2)
            ax.set_title(f"{shape}, batch {batch}")
            ax.set_xlabel("context (tokens)")
            ax.set_ylabel("tokens/s")
            ax.grid(alpha=0.3)
            if cell:
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows, device, copy = load(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)
    with open(os.path.join(sys.argv[2], "e2e_table.md"), "w") as f:
        f.write(table(rows, device, copy))
    plot(rows, os.path.join(sys.argv[2], "e2e_tokens_per_s.png"))
    print(f"{len(rows)} rows -> {sys.argv[2]}/e2e_table.md, e2e_tokens_per_s.png")


if __name__ == "__main__":
    main()
