#!/usr/bin/env python3
"""Tables (Markdown, on stdout) and SVG plots (docs/results/*.svg) from the JSON/CSV files that
scripts/eval_grid.sh writes under docs/results/ (KIND=tiny). Standard library only.

Usage: python3 scripts/results_tables.py [docs/results]
"""
import csv
import json
import math
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "docs/results"
BOOKS = [("austen_persuasion", "Persuasion"), ("austen_northanger_abbey", "Northanger Abbey")]
POLICIES = [("streaming", "StreamingLLM"), ("quest", "Quest"), ("adamas_paper", "Adamas, paper thresholds"),
            ("adamas_cal", "Adamas, calibrated"), ("adamas_asym", "Adamas, asymmetric estimator (calibrated)"),
            ("oracle", "Oracle top-k")]
COLORS = ["#E69F00", "#56B4E9", "#D55E00", "#009E73", "#0072B2", "#CC79A7", "#F0E442", "#000000", "#999999"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ppl(path):
    d = load(path)
    return d["perplexity"] if d else None


def fmt(x, digits=2):
    return "—" if x is None else f"{x:.{digits}f}"


def pct(x, ref):
    return "—" if x is None or ref is None else f"{(x / ref - 1) * 100:+.1f}%"


# ---------------------------------------------------------------- SVG
def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, target=6):
    span = hi - lo if hi > lo else abs(hi) or 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    t = math.ceil(lo / step - 1e-9) * step
    out = []
    while t <= hi + 1e-9 * span:
        out.append(round(t, 10))
        t += step
    return out


def line_plot(path, title, xlabel, ylabel, series, log2x=False, hlines=(), width=820, height=460, ylim=None):
    """series: [(name, xs, ys, dashed)], hlines: [(name, y)] drawn dashed across."""
    left, right, top, bottom = 70, 290, 40, 55
    xs = [x for s in series for x in s[1]]
    ys = [y for s in series for y in s[2] if y is not None] + [y for _, y in hlines]
    fx = (lambda v: math.log2(v)) if log2x else (lambda v: v)
    x_lo, x_hi = fx(min(xs)), fx(max(xs))
    if x_hi == x_lo:
        x_hi += 1
    y_lo, y_hi = (min(ys), max(ys)) if ylim is None else ylim
    pad = (y_hi - y_lo) * 0.05 or 1.0
    y_lo, y_hi = y_lo - pad, y_hi + pad
    pw, ph = width - left - right, height - top - bottom
    X = lambda v: left + (fx(v) - x_lo) / (x_hi - x_lo) * pw
    Y = lambda v: top + (1 - (v - y_lo) / (y_hi - y_lo)) * ph
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="14">{esc(title)}</text>',
         f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>']
    xticks = sorted(set(xs)) if log2x else nice_ticks(min(xs), max(xs))
    for t in xticks:
        o.append(f'<line x1="{X(t):.1f}" y1="{top + ph}" x2="{X(t):.1f}" y2="{top + ph + 5}" stroke="#333"/>')
        o.append(f'<text x="{X(t):.1f}" y="{top + ph + 18}" text-anchor="middle">{t:g}</text>')
    for t in nice_ticks(y_lo, y_hi):
        if y_lo <= t <= y_hi:
            o.append(f'<line x1="{left}" y1="{Y(t):.1f}" x2="{left + pw}" y2="{Y(t):.1f}" stroke="#eee"/>')
            o.append(f'<text x="{left - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    o.append(f'<text x="{left + pw / 2}" y="{height - 12}" text-anchor="middle">{esc(xlabel)}</text>')
    o.append(f'<text transform="translate(16,{top + ph / 2}) rotate(-90)" text-anchor="middle">{esc(ylabel)}</text>')
    legend_y = top + 10
    for name, y in hlines:
        o.append(f'<line x1="{left}" y1="{Y(y):.1f}" x2="{left + pw}" y2="{Y(y):.1f}" stroke="#000" '
                 f'stroke-dasharray="6,4"/>')
        o.append(f'<line x1="{left + pw + 12}" y1="{legend_y}" x2="{left + pw + 36}" y2="{legend_y}" stroke="#000" '
                 f'stroke-dasharray="6,4"/><text x="{left + pw + 42}" y="{legend_y + 4}">{esc(name)}</text>')
        legend_y += 18
    for i, (name, sx, sy, dashed) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        pts = [(X(x), Y(y)) for x, y in zip(sx, sy) if y is not None and y_lo <= y <= y_hi]
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="'
                 + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        if len(pts) <= 12:
            for a, b in pts:
                o.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{c}"/>')
        o.append(f'<line x1="{left + pw + 12}" y1="{legend_y}" x2="{left + pw + 36}" y2="{legend_y}" stroke="{c}" '
                 f'stroke-width="2"{dash}/><text x="{left + pw + 42}" y="{legend_y + 4}">{esc(name)}</text>')
        legend_y += 18
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def bar_plot(path, title, labels, groups, group_names, xlabel):
    """Horizontal bars: one row per label, one bar per group (values in %, 0 marked)."""
    row_h, bar_h, left, right, top = 34, 12, 390, 40, 50
    width, height = 900, top + row_h * len(labels) + 50
    vals = [v for g in groups for v in g if v is not None] + [0.0]
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad
    pw = width - left - right
    X = lambda v: left + (v - lo) / (hi - lo) * pw
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
         f'font-family="sans-serif" font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{esc(title)}</text>']
    for t in nice_ticks(lo, hi, 8):
        o.append(f'<line x1="{X(t):.1f}" y1="{top - 5}" x2="{X(t):.1f}" y2="{height - 45}" stroke="#eee"/>')
        o.append(f'<text x="{X(t):.1f}" y="{height - 30}" text-anchor="middle">{t:g}</text>')
    o.append(f'<line x1="{X(0):.1f}" y1="{top - 5}" x2="{X(0):.1f}" y2="{height - 45}" stroke="#000"/>')
    o.append(f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">{esc(xlabel)}</text>')
    for i, label in enumerate(labels):
        y = top + i * row_h
        o.append(f'<text x="{left - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{esc(label)}</text>')
        for g, values in enumerate(groups):
            v = values[i]
            if v is None:
                continue
            by = y + 4 + g * (bar_h + 2)
            x0, x1 = sorted((X(0), X(v)))
            o.append(f'<rect x="{x0:.1f}" y="{by:.1f}" width="{max(x1 - x0, 1):.1f}" height="{bar_h}" '
                     f'fill="{COLORS[g]}"/>')
    for g, name in enumerate(group_names):
        o.append(f'<rect x="{left + g * 140}" y="32" width="12" height="10" fill="{COLORS[g]}"/>'
                 f'<text x="{left + g * 140 + 16}" y="41">{esc(name)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


# ---------------------------------------------------------------- sections
def budgets_present(d, prefix):
    out = []
    for b in (16, 32, 64, 128, 256, 512, 1024, 2048):
        if os.path.exists(f"{d}/{prefix}_b{b}.json"):
            out.append(b)
    return out


def section_calib():
    d = f"{ROOT}/calib"
    if not os.path.exists(f"{d}/full.json"):
        return
    full = ppl(f"{d}/full.json")
    print("### Validation (SOTU addresses, 4096 tokens): thresholds and estimators\n")
    print(f"Full attention: {fmt(full)}\n")
    rows = [("oracle", "oracle top-k"), ("quest", "Quest"), ("adamas_paper", "adamas L1, paper (-10, 0, 10)"),
            ("adamas_q0.25_0.5_0.75", "adamas L1, calibrated q (.25, .5, .75) = equal mass"),
            ("adamas_q0.1_0.5_0.9", "adamas L1, calibrated q (.1, .5, .9)"),
            ("adamas_q0.02_0.5_0.98", "adamas L1, calibrated q (.02, .5, .98)"),
            ("adamas_l2", "adamas L2, calibrated equal mass"), ("adamas_hamming", "adamas Hamming (signs)"),
            ("adamas_asymmetric", "adamas asymmetric, calibrated equal mass")]
    print("| selector | ppl @64 | vs full | ppl @256 | vs full |\n|---|---|---|---|---|")
    for key, name in rows:
        a, b = ppl(f"{d}/{key}_b64.json"), ppl(f"{d}/{key}_b256.json")
        print(f"| {name} | {fmt(a)} | {pct(a, full)} | {fmt(b)} | {pct(b, full)} |")
    if os.path.exists(f"{d}/choice.txt"):
        print(f"\nChosen quantiles: `{open(f'{d}/choice.txt').read().strip()}`\n")


def section_ppl():
    for book, title in BOOKS:
        d = f"{ROOT}/ppl/{book}"
        full = ppl(f"{d}/full.json")
        if full is None:
            continue
        tokens = load(f"{d}/full.json")["tokens"]
        budgets = sorted(set(b for key, _ in POLICIES for b in budgets_present(d, key)))
        print(f"### {title}, first {tokens} tokens: perplexity (full attention {full:.2f})\n")
        print("| policy | " + " | ".join(str(b) for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        series = []
        for key, name in POLICIES:
            vals = [ppl(f"{d}/{key}_b{b}.json") for b in budgets]
            print(f"| {name} | " + " | ".join(f"{fmt(v)} ({pct(v, full)})" if v else "—" for v in vals) + " |")
            series.append((name, budgets, vals, False))
        print()
        line_plot(f"{ROOT}/ppl_{book}.svg", f"{title}: perplexity vs budget ({tokens} tokens, PG19 protocol)",
                  "token budget", "perplexity", series, log2x=True, hlines=[("full attention", full)])
        # bytes and speed at each budget (runs by a CUDA build before 5ea74bd report 0 bytes: n/a)
        print(f"KV bytes read per decoded token (mean over the {tokens - 1} steps, all 6 layers) and decode speed:\n")
        print("| policy | budget | KiB/token | vs dense | tok/s |\n|---|---|---|---|---|")
        kib = lambda r: f"{r['kv_bytes_per_token'] / 1024:.0f}" if r["kv_bytes_per_token"] else "n/a"
        ratio = lambda r: f"{r['dense_kv_bytes_per_token'] / r['kv_bytes_per_token']:.2f}x" if r["kv_bytes_per_token"] else "n/a"
        f = load(f"{d}/full.json")
        print(f"| full | — | {kib(f)} | 1.00x | {f['decode_tokens_per_second']:.1f} |")
        for key, name in POLICIES:
            for b in (64, 256):
                r = load(f"{d}/{key}_b{b}.json")
                if r:
                    print(f"| {name} | {b} | {kib(r)} | {ratio(r)} | {r['decode_tokens_per_second']:.1f} |")
        print()


def section_ablation():
    # eval_grid.sh: ablation/<book>/<option>_b<B>.json; the rows it shares with the ppl stage (full,
    # Quest, oracle, the paper's Adamas, asymmetric) come from ppl/<book>/.
    shared = {"quest": "quest", "oracle": "oracle", "paper": "adamas_paper", "asymmetric": "adamas_asym"}
    rows = [("quest", "Quest (page 16)"), ("oracle", "oracle top-k"),
            ("paper", "L1, 2-bit, Hadamard, paper thresholds (the paper's method)"),
            ("nohad_paper", "L1, 2-bit, no Hadamard, paper thresholds"),
            ("bits2_eq", "L1, 2-bit, Hadamard, calibrated (equal mass)"),
            ("nohad_cal", "L1, 2-bit, no Hadamard, calibrated"),
            ("bits1", "L1 (= Hamming), 1-bit, Hadamard, calibrated (median)"),
            ("bits3", "L1, 3-bit, Hadamard, calibrated"),
            ("l2", "L2, 2-bit, Hadamard, calibrated"),
            ("hamming", "Hamming on the sign bit of 2-bit codes, calibrated"),
            ("asymmetric", "asymmetric q'·centroid, 2-bit, Hadamard, calibrated")]
    for book, title in BOOKS:
        d, p = f"{ROOT}/ablation/{book}", f"{ROOT}/ppl/{book}"
        full = ppl(f"{p}/full.json")
        if full is None or not os.path.isdir(d):
            continue
        path = lambda key, b: f"{p}/{shared[key]}_b{b}.json" if key in shared else f"{d}/{key}_b{b}.json"
        n = load(f"{p}/full.json")["tokens"]
        print(f"### Estimator study, {title}, first {n} tokens (full attention {full:.2f})\n")
        print("| selector | ppl @64 | vs full | ppl @256 | vs full |\n|---|---|---|---|---|")
        series64, series256 = [], []
        for key, name in rows:
            a, b = ppl(path(key, 64)), ppl(path(key, 256))
            print(f"| {name} | {fmt(a)} | {pct(a, full)} | {fmt(b)} | {pct(b, full)} |")
            series64.append(None if a is None else (a / full - 1) * 100)
            series256.append(None if b is None else (b / full - 1) * 100)
        print()
        bar_plot(f"{ROOT}/ablation_{book}.svg", f"{title}, {n} tokens: perplexity change vs full attention",
                 [name for _, name in rows], [series64, series256], ["budget 64", "budget 256"],
                 "perplexity vs full attention, % (0 = full; either side is a deviation)")


def section_recall():
    d = f"{ROOT}/recall"
    paper = load(f"{d}/paper.json")
    if not paper:
        return
    print(f"### Attention recall, Persuasion, {paper['tokens']} tokens, {paper['scored_steps']} scored steps\n")
    cells = list(paper["cells"])
    extras = ("cal", "asymmetric", "hamming", "nohad_paper", "nohad_cal", "bits1", "bits3", "l2")
    for extra in extras:
        r = load(f"{d}/{extra}.json")
        if r:
            cells += [dict(c, policy=f"adamas_{extra}") for c in r["cells"]]
    budgets = sorted(set(c["budget"] for c in cells))
    layers = sorted(set(c["layer"] for c in cells))
    names = {"streaming": "StreamingLLM", "quest": "Quest", "adamas": "Adamas L1, paper thresholds",
             "adamas_cal": "Adamas L1, calibrated", "adamas_asymmetric": "Adamas asymmetric, calibrated",
             "adamas_hamming": "Adamas Hamming (signs), calibrated", "oracle": "Oracle top-k",
             "adamas_nohad_paper": "Adamas L1, no Hadamard, paper thresholds",
             "adamas_nohad_cal": "Adamas L1, no Hadamard, calibrated", "adamas_bits1": "Adamas L1, 1-bit, calibrated",
             "adamas_bits3": "Adamas L1, 3-bit, calibrated", "adamas_l2": "Adamas L2, calibrated"}
    order = ["streaming", "quest", "adamas", "adamas_nohad_paper", "adamas_cal", "adamas_nohad_cal", "adamas_bits1",
             "adamas_bits3", "adamas_l2", "adamas_hamming", "adamas_asymmetric", "oracle"]

    def mean(p, b, metric, layer_ok):
        xs = [c[metric] for c in cells if c["policy"] == p and c["budget"] == b and layer_ok(c["layer"])]
        return sum(xs) / len(xs) if xs else None

    sparse = lambda l: l >= 2
    for metric, label in (("mass", "attention mass covered"), ("recall", "recall of the oracle's top-B")):
        print(f"Mean over the sparse layers 2-5 and both KV heads, {label}:\n")
        print("| policy | " + " | ".join(str(b) for b in budgets) + " |\n|---|" + "---|" * len(budgets))
        series = []
        for p in order:
            vals = [mean(p, b, metric, sparse) for b in budgets]
            if all(v is None for v in vals):
                continue
            print(f"| {names[p]} | " + " | ".join(fmt(v, 3) for v in vals) + " |")
            series.append((names[p], budgets, vals, False))
        print()
        line_plot(f"{ROOT}/recall_{metric}.svg", f"Persuasion: {label}, layers 2-5 (mean over layers and KV heads)",
                  "token budget", label, series, log2x=True)
    print("Attention mass per layer at budgets 16/64/256/1024 (mean over the 2 KV heads; layers 0-1 attend densely in "
          "the runtime and are scored here only for reference):\n")
    print("| policy | budget | " + " | ".join(f"layer {l}" for l in layers) + " |\n|---|---|" + "---|" * len(layers))
    for p in order:
        for b in [b for b in budgets if b in (16, 64, 256, 1024)]:  # all 7 budgets: the JSON/CSV files
            vals = [mean(p, b, "mass", lambda l, L=L: l == L) for L in layers]
            if any(v is not None for v in vals):
                print(f"| {names[p]} | {b} | " + " | ".join(fmt(v, 3) for v in vals) + " |")
    print()
    # per-layer plot at budget 64
    series = []
    for p in order:
        vals = [mean(p, 64, "mass", lambda l, L=L: l == L) for L in layers]
        if any(v is not None for v in vals):
            series.append((names[p], layers, vals, False))
    line_plot(f"{ROOT}/recall_mass_per_layer_b64.svg", "Persuasion: attention mass covered per layer at budget 64",
              "layer", "attention mass covered", series)


def sweep_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def section_passkey():
    # eval_grid.sh: passkey/len<L>_<sweep>.csv (`adamas sweep --task passkey`: one row per policy and
    # budget) and passkey_ablation/len<L>_<option>.csv (CPU-only selector options, adamas rows).
    names = {"paper": "paper thresholds", "cal": "calibrated", "asym": "asymmetric, calibrated",
             "nohad_paper": "no Hadamard, paper thresholds", "nohad_cal": "no Hadamard, calibrated",
             "bits1": "1-bit, calibrated", "bits3": "3-bit, calibrated", "l2": "L2, calibrated",
             "hamming": "Hamming, calibrated"}
    files = []
    for sub in ("passkey", "passkey_ablation"):
        d = f"{ROOT}/{sub}"
        if os.path.isdir(d):
            files += sorted(f"{d}/{f}" for f in os.listdir(d) if f.startswith("len") and f.endswith(".csv"))
    if not files:
        return
    lengths = sorted(set(int(os.path.basename(f)[3:].split("_")[0]) for f in files))
    for length in lengths:
        table, budgets, series = [], set(), []
        for f in files:
            base = os.path.basename(f)[:-4]
            if int(base[3:].split("_")[0]) != length:
                continue
            sweep = base.split("_", 1)[1]
            for r in sweep_rows(f):
                policy = r["policy"] if r["policy"] != "adamas" else f"Adamas, {names.get(sweep, sweep)}"
                if r["policy"] != "adamas" and sweep != "paper":
                    continue
                label = {"full": "full attention", "streaming": "StreamingLLM", "quest": "Quest",
                         "oracle": "Oracle top-k"}.get(policy, policy)
                table.append((label, int(r["budget"]), float(r["accuracy"])))
                budgets.add(int(r["budget"]))
        budgets.discard(0)
        budgets = sorted(budgets)
        print(f"### Passkey, {length} tokens: accuracy (greedy, exact 5 digits)\n")
        print("| policy | " + " | ".join(str(b) for b in budgets) + " |\n|---|" + "---|" * len(budgets))
        first = ["full attention", "StreamingLLM", "Quest", "Adamas, paper thresholds", "Adamas, calibrated",
                 "Adamas, asymmetric, calibrated"]
        labels = list(dict.fromkeys(t[0] for t in table))
        labels.sort(key=lambda l: (first.index(l) if l in first else len(first) + (l == "Oracle top-k"), l))
        for label in labels:
            cells = {b: a for l, b, a in table if l == label}
            if 0 in cells:  # full attention: one value for every budget
                print(f"| {label} | " + " | ".join(f"{cells[0] * 100:.0f}%" for _ in budgets) + " |")
                continue
            print(f"| {label} | " + " | ".join(f"{cells[b] * 100:.0f}%" if b in cells else "—" for b in budgets) + " |")
            series.append((label, budgets, [cells.get(b) for b in budgets], False))
        print()
        full = [a for l, b, a in table if b == 0]
        line_plot(f"{ROOT}/passkey_{length}.svg", f"Passkey at {length} tokens: accuracy vs budget",
                  "token budget", "accuracy", series, log2x=True,
                  hlines=[("full attention", full[0])] if full else (), ylim=(0, 1.05))


def curve(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [int(r["tokens"]) for r in rows], [float(r["perplexity"]) for r in rows]


def section_anomaly():
    d = f"{ROOT}/anomaly"
    if not os.path.isdir(d):
        return
    print("### The budget-64 anomaly, 2048 tokens\n")
    print("| text | full | adamas @ 4096 (> context) | adamas @64 | oracle @64 | streaming @64 | quest @64 |")
    print("|---|---|---|---|---|---|---|")
    for book, title in BOOKS:
        vals = [ppl(f"{d}/{book}_{k}.json") for k in
                ("full", "adamas_b4096", "adamas_b64", "oracle_b64", "streaming_b64", "quest_b64")]
        print(f"| {title} | " + " | ".join(fmt(v, 3) for v in vals) + " |")
    print()
    # Cumulative NLL difference to full along the text (the curves are cumulative perplexities).
    series = []
    for book, title in BOOKS:
        if not os.path.exists(f"{d}/{book}_full.csv"):
            continue
        n, pf = curve(f"{d}/{book}_full.csv")
        for key in ("adamas_b64", "oracle_b64", "streaming_b64"):
            if not os.path.exists(f"{d}/{book}_{key}.csv"):
                continue
            _, pk = curve(f"{d}/{book}_{key}.csv")
            diff = [k * (math.log(b) - math.log(a)) for k, a, b in zip(n, pf, pk)]
            step = max(1, len(n) // 200)
            series.append((f"{title}: {key.replace('_b64', '')} @64", n[::step], diff[::step], False))
    if series:
        line_plot(f"{ROOT}/anomaly_cumulative_nll.svg",
                  "Cumulative NLL difference to full attention (nats; below 0 = better than full)",
                  "tokens predicted", "sum of (NLL - NLL full)", series)


if __name__ == "__main__":
    section_calib()
    section_ppl()
    section_ablation()
    section_recall()
    section_passkey()
    section_anomaly()
