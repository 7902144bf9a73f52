#!/usr/bin/env python3
"""Scale of SmolLM2's post-RoPE, Hadamard-rotated queries and keys (fp32, transformers on the same GGUF),
on the first 1024 tokens of the validation text: per layer quantiles, and the share of coordinates that
the paper's thresholds (-10, 0, +10) put in the outer buckets. Prints a markdown table; writes qk_stats.json.
Usage: python docs/results_smollm2/qk_stats.py [GGUF] [TEXT] [TOKENS]"""
import json, os, sys
import numpy as np
import torch
import transformers.models.llama.modeling_llama as ml
from transformers import AutoModelForCausalLM, AutoTokenizer
from tokenizers import pre_tokenizers

torch.set_num_threads(1)
gguf = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/adamas/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
text = sys.argv[2] if len(sys.argv) > 2 else "data/validation/sotu_validation.txt"
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
d, f = os.path.split(gguf)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(  # SmolLM2's own pre-tokenizer (see gguf_parity.py)
    [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
ids = [1] + tok(open(text, encoding="utf-8").read(), add_special_tokens=False)["input_ids"][: n - 1]
captured = []
orig = ml.apply_rotary_pos_emb
def hook(q, k, cos, sin, *a, **kw):
    qe, ke = orig(q, k, cos, sin, *a, **kw)
    captured.append((qe.detach()[0].numpy(), ke.detach()[0].numpy()))  # [heads, n, 64]
    return qe, ke
ml.apply_rotary_pos_emb = hook
with torch.no_grad():
    model(torch.tensor([ids]))
hd = captured[0][0].shape[-1]
H = np.array([[1.0]])
while H.shape[0] < hd:
    H = np.block([[H, H], [H, -H]])
H /= np.sqrt(hd)
rows, out = [], {}
print("| layer | key q02 / q25 / q50 / q75 / q98 | key share abs>10 | query q02 / q50 / q98 | query share abs>10 |")
print("|---|---|---|---|---|")
for layer, (q, k) in enumerate(captured):
    kr, qr = (k @ H.T).ravel(), (q @ H.T).ravel()
    kq = np.quantile(kr, [0.02, 0.25, 0.5, 0.75, 0.98])
    qq = np.quantile(qr, [0.02, 0.5, 0.98])
    out[layer] = {"key_quantiles_02_25_50_75_98": kq.tolist(), "key_std": float(kr.std()),
                  "key_share_outer": float(np.mean(np.abs(kr) > 10)), "query_quantiles_02_50_98": qq.tolist(),
                  "query_std": float(qr.std()), "query_share_outer": float(np.mean(np.abs(qr) > 10))}
    print("| %d | %s | %.3f | %s | %.3f |" % (layer, " / ".join("%.2f" % x for x in kq), out[layer]["key_share_outer"],
                                             " / ".join("%.2f" % x for x in qq), out[layer]["query_share_outer"]))
json.dump({"text": text, "tokens": len(ids), "layers": out}, open(os.path.join(os.path.dirname(__file__), "qk_stats.json"), "w"), indent=1)
