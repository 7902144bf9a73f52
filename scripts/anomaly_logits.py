#!/usr/bin/env python3
"""The budget-64 anomaly, from decode-mode logits (adamas logits --mode decode, 2048 tokens of
Persuasion): per-token NLL differences to full attention, entropies, KL(full || policy), and the
best softmax temperature of each (if full attention were miscalibrated, a temperature would buy
the same gain). Usage: scripts/anomaly_logits.py DIR (DIR holds tokens.npy and <policy>.npy)."""
import json
import sys

import numpy as np

d = sys.argv[1]
tok = np.load(f"{d}/tokens.npy")[1:]
out = {}
ref = None
for name in sys.argv[2:] or ["full", "adamas", "oracle"]:
    logits = np.load(f"{d}/{name}.npy").astype(np.float64)[:-1]

    def nll_at(T):
        z = logits / T
        m = z.max(1, keepdims=True)
        return np.log(np.exp(z - m).sum(1)) + m[:, 0] - z[np.arange(len(tok)), tok]

    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    p = np.exp(logp)
    nll = -logp[np.arange(len(tok)), tok]
    temps = np.round(np.arange(0.8, 1.41, 0.02), 2)
    best = min((float(np.exp(nll_at(T).mean())), float(T)) for T in temps)
    row = {"perplexity": float(np.exp(nll.mean())), "mean_entropy": float(-(p * logp).sum(1).mean()),
           "best_temperature": best[1], "perplexity_at_best_temperature": best[0]}
    if ref is None:
        ref = (nll, p, logp)
    else:
        dn = nll - ref[0]
        row["mean_dnll_vs_full"] = float(dn.mean())
        row["median_dnll_vs_full"] = float(np.median(dn))
        row["fraction_tokens_better_than_full"] = float((dn < 0).mean())
        row["mean_kl_full_to_policy"] = float((ref[1] * (ref[2] - logp)).sum(1).mean())
        row["mean_dnll_by_position"] = {f"{a}-{b}": float(dn[a:b].mean())
                                        for a, b in [(0, 64), (64, 256), (256, 512), (512, 1024), (1024, len(dn))]}
    out[name] = row
print(json.dumps(out, indent=2))
