#!/usr/bin/env python3
"""Markdown tables and SVG plots for docs/results_smollm2.md from the runs of scripts/run_smollm2_evals.sh.
Usage: python3 docs/results_smollm2/make_tables.py   (prints the tables; writes *.svg next to this file)"""
import csv
import glob
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BOOKS = ["austen_persuasion", "austen_northanger_abbey"]
BUDGETS = [16, 64, 256]
POLICIES = [("streaming", "StreamingLLM"), ("quest", "Quest"), ("adamas_paper", "Adamas, paper t=(-10,0,10), L1"),
            ("adamas_cal", "Adamas, calibrated (.25,.5,.75), L1"),
            ("adamas_calasym", "Adamas, calibrated (.1,.5,.9), asymmetric"), ("oracle", "Oracle top-k")]
COLORS = {"streaming": "#1f77b4", "quest": "#ff7f0e", "adamas_paper": "#d62728", "adamas_cal": "#9467bd",
          "adamas_calasym": "#2ca02c", "oracle": "#7f7f7f", "full": "#000000"}
TAIL_START = 256  # predictions after this many tokens: every budget of the table is sparse there


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def curve(path):
    """Cumulative perplexity CSV -> {tokens: cumulative nll sum}."""
    out = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            n = int(row["tokens"])
            out[n] = n * math.log(float(row["perplexity"]))
    return out


def tail_ppl(path, start):
    """Perplexity over the predictions after the first `start` (all budgets <= start are sparse there)."""
    c = curve(path)
    last = max(c)
    if last <= start or start not in c:
        return None
    return math.exp((c[last] - c[start]) / (last - start))


def fmt(x, ref=None):
    if x is None:
        return "-"
    s = "%.3f" % x
    if ref:
        s += " (%+.1f%%)" % (100 * (x / ref - 1))
    return s


def calib_table():
    d = os.path.join(HERE, "calib")
    rows = []
    full = load(os.path.join(d, "full.json"))
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        r = load(path)
        rows.append((os.path.basename(path)[:-5], r["config"], r["perplexity"]))
    print("### Calibration quantiles (validation text)\n")
    print("| run | configuration | perplexity |")
    print("|---|---|---|")
    for name, cfg, ppl in rows:
        print("| %s | %s | %s |" % (name, cfg, fmt(ppl, full["perplexity"] if full and name != "full" else None)))
    print()


def ppl_tables():
    svg_series = {}
    for book in BOOKS:
        d = os.path.join(HERE, "ppl", book)
        full = load(os.path.join(d, "full.json"))
        if not full:
            continue
        tokens = full["tokens"]
        print("### %s, first %d tokens: perplexity over all %d predictions (full attention %.3f)\n" %
              (book, tokens, tokens - 1, full["perplexity"]))
        print("| policy | " + " | ".join("B=%d" % b for b in BUDGETS) + " |")
        print("|---|" + "---|" * len(BUDGETS))
        for key, label in POLICIES:
            cells = []
            for b in BUDGETS:
                r = load(os.path.join(d, "%s_b%d.json" % (key, b)))
                cells.append(fmt(r["perplexity"], full["perplexity"]) if r else "-")
                if r:
                    svg_series.setdefault((book, key), []).append((b, r["perplexity"]))
            print("| %s | %s |" % (label, " | ".join(cells)))
        print()
        start = TAIL_START
        full_tail = tail_ppl(os.path.join(d, "full.csv"), start)
        if full_tail:
            print("Same runs, perplexity over predictions %d..%d only (every budget <= %d is sparse there; "
                  "full attention %.3f):\n" % (start + 1, tokens - 1, start, full_tail))
            print("| policy | " + " | ".join("B=%d" % b for b in BUDGETS) + " |")
            print("|---|" + "---|" * len(BUDGETS))
            for key, label in POLICIES:
                cells = []
                for b in BUDGETS:
                    p = os.path.join(d, "%s_b%d.csv" % (key, b))
                    cells.append(fmt(tail_ppl(p, start), full_tail) if os.path.exists(p) else "-")
                print("| %s | %s |" % (label, " | ".join(cells)))
            print()
        speeds = [load(p)["decode_tokens_per_second"] for p in glob.glob(os.path.join(d, "*.json"))]
        print("Decode speed over these runs: %.1f-%.1f tok/s (1 thread, shared 2-core VM).\n" % (min(speeds), max(speeds)))
        write_ppl_svg(os.path.join(HERE, "ppl_%s.svg" % book), book, full["perplexity"],
                      {k: v for (bk, k), v in svg_series.items() if bk == book})


def write_ppl_svg(path, book, full_ppl, series):
    if not series:
        return
    w, h, ml, mr, mt, mb = 760, 420, 60, 300, 30, 45
    xs = [math.log2(b) for b in BUDGETS]
    ys = [math.log(full_ppl)] + [math.log(p) for s in series.values() for _, p in s]
    y0, y1 = min(ys), max(ys)
    y0, y1 = y0 - 0.03 * (y1 - y0 + 1e-9), y1 + 0.05 * (y1 - y0 + 1e-9)
    X = lambda b: ml + (math.log2(b) - xs[0]) / (xs[-1] - xs[0]) * (w - ml - mr)
    Y = lambda p: mt + (y1 - math.log(p)) / (y1 - y0) * (h - mt - mb)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14">SmolLM2-135M, %s: perplexity vs token budget (log scale)</text>' % (ml, book)]
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (ml, h - mb, w - mr, h - mb))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (ml, mt, ml, h - mb))
    for b in BUDGETS:
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (X(b), h - mb + 16, b))
    out.append('<text x="%d" y="%d" text-anchor="middle">token budget B</text>' % ((ml + w - mr) // 2, h - 8))
    lo, hi = math.exp(y0), math.exp(y1)
    ticks, t = [], 10 ** math.floor(math.log10(lo))
    for m in (1, 1.5, 2, 3, 5, 7):
        pass
    cands = sorted({round(v, 6) for e in range(-1, 5) for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8) for v in [m * 10 ** e]})
    cands = [c for c in cands if lo <= c <= hi]
    step = max(1, len(cands) // 8)
    for c in cands[::step]:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (ml, Y(c), w - mr, Y(c)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (ml - 4, Y(c) + 4, c))
    out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-dasharray="5,4"/>' %
               (ml, Y(full_ppl), w - mr, Y(full_ppl)))
    legend = [("full", "Full attention")] + POLICIES
    for key, pts in series.items():
        pts = sorted(pts)
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
                   (COLORS[key], " ".join("%.1f,%.1f" % (X(b), Y(p)) for b, p in pts)))
        for b, p in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (X(b), Y(p), COLORS[key]))
    for i, (key, label) in enumerate(legend):
        y = mt + 10 + 18 * i
        dash = ' stroke-dasharray="5,4"' if key == "full" else ""
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>' %
                   (w - mr + 10, y, w - mr + 30, y, COLORS[key], dash))
        out.append('<text x="%d" y="%d">%s</text>' % (w - mr + 35, y + 4, label.replace("t=(-10,0,10)", "t=±10").replace("asymmetric", "asym.")))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def passkey_table():
    files = sorted(glob.glob(os.path.join(HERE, "passkey", "len*.json")))
    if not files:
        return
    print("### Passkey, 1024 tokens\n")
    print("| policy | correct | depth 0 / 50 / 100 % | answers (key -> first 5 digits answered, x: no number) |")
    print("|---|---|---|---|")
    order = ["full", "streaming_b64", "quest_b64", "adamas_paper_b64", "adamas_calasym_b64", "oracle_b64"]
    files.sort(key=lambda p: order.index(os.path.basename(p)[8:-5]) if os.path.basename(p)[8:-5] in order else 99)
    for path in files:
        r = load(path)
        trials = r["trials"]
        ok = sum(t["correct"] for t in trials)
        by = r["accuracy_by_depth"]
        import re
        ans = []
        for t in trials:
            m = re.search(r"\d+", t["answer"])
            ans.append("%s->%s" % (t["key"], m.group(0)[:6] if m else "x"))
        labels = {"full": "Full", "streaming_b64": "StreamingLLM, B=64", "quest_b64": "Quest, B=64",
                  "adamas_paper_b64": "Adamas, paper t, L1, B=64",
                  "adamas_calasym_b64": "Adamas, calibrated (.1,.5,.9), asymmetric, B=64",
                  "oracle_b64": "Oracle top-64"}
        print("| %s | %d/%d | %s | %s |" % (labels.get(os.path.basename(path)[8:-5], r["config"]), ok, len(trials),
                                          " / ".join("%d/%d" % (round(by[k] * r["trials_per_depth"]), r["trials_per_depth"])
                                                     for k in ("0", "50", "100")), ", ".join(ans)))
    print()


def recall_tables():
    paper = load(os.path.join(HERE, "recall", "paper.json"))
    cal = load(os.path.join(HERE, "recall", "calibrated.json"))
    calasym = load(os.path.join(HERE, "recall", "calasym.json"))
    RB = [16, 64, 256, 1024]
    if not paper:
        return
    print("### Attention recall (%d tokens, %d scored decode steps)\n" % (paper["tokens"], paper["scored_steps"]))
    print("Attention mass captured (mean over layers 2-29 and KV heads; worst layer in brackets):\n")
    rows = {}  # key -> budget -> {"mass", "recall", "min_layer_mass"} over layers >= 2 (layers 0-1 stay dense)
    for src, tag in ((paper, ""), (cal, "_cal"), (calasym, "_calasym")):
        if not src:
            continue
        acc = {}
        for c in src["cells"]:
            if c["layer"] < 2 or c["steps"] == 0:
                continue
            key = c["policy"] + ("_paper" if c["policy"] == "adamas" and not tag else tag)
            acc.setdefault((key, c["budget"]), {}).setdefault(c["layer"], []).append((c["mass"], c["recall"]))
        for (key, b), layers in acc.items():
            lm = {l: sum(m for m, _ in v) / len(v) for l, v in layers.items()}
            allc = [x for v in layers.values() for x in v]
            rows.setdefault(key, {})[b] = {"mass": sum(m for m, _ in allc) / len(allc),
                                           "recall": sum(r for _, r in allc) / len(allc),
                                           "min_layer_mass": min(lm.values())}
    print("| policy | " + " | ".join("B=%d" % b for b in RB) + " |")
    print("|---|" + "---|" * len(RB))
    names = {"streaming": "StreamingLLM", "quest": "Quest", "adamas_paper": "Adamas, paper t, L1",
             "adamas_cal": "Adamas, calibrated (.25,.5,.75), L1",
             "adamas_calasym": "Adamas, calibrated (.1,.5,.9), asymmetric", "oracle": "Oracle top-k"}
    order = ["streaming", "quest", "adamas_paper", "adamas_cal", "adamas_calasym", "oracle"]
    for key in order:
        if key in rows:
            print("| %s | %s |" % (names[key], " | ".join(
                "%.3f (%.3f)" % (rows[key][b]["mass"], rows[key][b]["min_layer_mass"]) if b in rows[key] else "-"
                for b in RB)))
    print()
    print("Recall of the oracle's top-B set (mean over layers 2-29 and KV heads):\n")
    print("| policy | " + " | ".join("B=%d" % b for b in RB) + " |")
    print("|---|" + "---|" * len(RB))
    for key in order:
        if key in rows and key != "oracle":
            print("| %s | %s |" % (names[key], " | ".join(
                "%.3f" % rows[key][b]["recall"] if b in rows[key] else "-" for b in RB)))
    print()
    print("Per layer, B=64, attention mass (mean over KV heads):\n")
    per = {}
    for src, tag in ((paper, ""), (cal, "_cal"), (calasym, "_calasym")):
        if not src:
            continue
        for c in src["cells"]:
            if c["budget"] != 64:
                continue
            key = c["policy"] + ("_paper" if c["policy"] == "adamas" and not tag else tag)
            per.setdefault(key, {}).setdefault(c["layer"], []).append(c["mass"])
    keys = [k for k in order if k in per]
    print("| layer | " + " | ".join(names[k] for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    for layer in sorted(per[keys[0]]):
        print("| %d | %s |" % (layer, " | ".join("%.3f" % (sum(per[k][layer]) / len(per[k][layer])) for k in keys)))
    print()


# The option study of issue 8 (section 5, "4K, every option"; section 6, "Every option"): tables and
# two plots, passkey_options_4096.svg and recall_options_mass.svg (line_plot of scripts/results_tables.py).
OPTIONS = [("oracle", "exact top-k oracle"), ("asym", "asymmetric, calibrated"), ("paper", "L1, paper thresholds"),
           ("cal", "L1, calibrated"), ("nohad_paper", "L1, no Hadamard, paper t"), ("nohad_cal", "L1, no Hadamard, calibrated"),
           ("bits1", "L1, 1 bit"), ("bits3", "L1, 3 bits"), ("l2", "L2"), ("hamming", "Hamming on signs")]


def options_study():
    import sys
    sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
    from results_tables import line_plot
    d = os.path.join(HERE, "passkey_ablation")
    if not os.path.isdir(d):
        return
    curves, full = {}, None
    for key, _ in OPTIONS:
        name = {"oracle": "paper_100", "asym": "asym_100", "paper": "paper_100", "cal": "cal_100"}.get(key, key)
        path = os.path.join(d, "len4096_%s.csv" % name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for r in csv.DictReader(f):
                if r["policy"] == "full":
                    full = float(r["accuracy"])
                elif r["policy"] == ("oracle" if key == "oracle" else "adamas"):
                    curves.setdefault(key, {})[int(r["budget"])] = float(r["accuracy"])
    budgets = sorted({b for c in curves.values() for b in c})
    print("### Passkey at 4K, every option (100 prompts per cell)\n")
    print("| selector | " + " | ".join(str(b) for b in budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for key, label in OPTIONS:
        if key in curves:
            print("| %s | %s |" % (label, " | ".join("%.0f%%" % (100 * curves[key][b]) for b in budgets)))
    print()
    series = [(label, budgets, [100 * curves[key][b] for b in budgets], key in ("nohad_paper", "nohad_cal", "bits1", "bits3"))
              for key, label in OPTIONS if key in curves]
    line_plot(os.path.join(HERE, "passkey_options_4096.svg"), "SmolLM2-135M, passkey at 4,096 tokens: every option",
              "token budget", "passkeys retrieved (%)", series, log2x=True,
              hlines=[("full attention", 100 * full)] if full is not None else (), ylim=(0, 100))
    r = os.path.join(HERE, "recall")
    sources = [("oracle", "paper.json", "oracle"), ("asym", "calasym.json", "adamas"), ("paper", "paper.json", "adamas"),
               ("cal", "calibrated.json", "adamas")] + [(k, k + ".json", "adamas") for k, _ in OPTIONS[4:]]
    mass = {}
    for key, f, policy in sources:
        data = load(os.path.join(r, f))
        if not data:
            continue
        for b in sorted({c["budget"] for c in data["cells"]}):
            cells = [c["mass"] for c in data["cells"] if c["budget"] == b and c["layer"] >= 2 and c["policy"] == policy]
            if cells:
                mass.setdefault(key, {})[b] = sum(cells) / len(cells)
    labels = dict(OPTIONS)
    series = [(labels[k], sorted(v), [v[b] for b in sorted(v)], k in ("nohad_paper", "nohad_cal", "bits1", "bits3"))
              for k, v in mass.items()]
    if series:
        line_plot(os.path.join(HERE, "recall_options_mass.svg"),
                  "SmolLM2-135M, Northanger Abbey: attention mass covered, layers 2-29, every option",
                  "token budget", "attention mass", series, log2x=True, ylim=(0, 1))


if __name__ == "__main__":
    if os.path.isdir(os.path.join(HERE, "calib")):
        calib_table()
    ppl_tables()
    passkey_table()
    recall_tables()
    options_study()
