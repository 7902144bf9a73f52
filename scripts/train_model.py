#!/usr/bin/env python3
"""Train, export (Hugging Face LlamaForCausalLM format) and evaluate the bundled model adamas-tiny-8k.

Inputs : <data>/tokens/train_<source>.bin (uint16, from scripts/prepare_corpus.py), the tokenizer
         models/adamas-tiny-8k/tokenizer.model, and data/heldout/*.txt for evaluation.
Outputs: <out>/config.json, model-0000K-of-0000N.safetensors + model.safetensors.index.json (bf16),
         loss_curve.csv, eval.json, train_log.txt.

Training mix (per sequence of the batch):
  text    : BOS + a contiguous slice of training text; language-model loss on every token.
  passkey : BOS + filler + " The pass key is DDDDD. Remember it." + filler +
            " What is the pass key? The pass key is DDDDD." (needle at a uniform random depth;
            filler: training text, or 20% of the time the classic repeated "The grass is green..." text).
  copy    : filler with 1-4 segments (random tokens or training text, 8-64 tokens) that occur twice;
            loss on the second occurrence (induction / long-range copying); or (dense) one segment
            repeated to the end. Random segments are drawn from a small alphabet (digits, or 2-16
            tokens) --small-alphabet of the time, so that copying needs multi-token matches.
Filler tokens of passkey/copy samples carry no loss (so the limited text is not memorized through
them); the loss is  mean(LM loss over text tokens) + mean(answer loss) + mean(copy loss).
The fraction of text sequences adapts so that the whole run sees about --text-epochs epochs of text.
Curriculum (--curriculum): short sequences first (256 -> 1024 -> 4096 -> 8192 tokens by fraction of the
wall-clock budget), so that retrieval/induction heads form where attention is not diluted over 8K keys.

Example (GPU):  python3 scripts/train_model.py --data .train_data --out $OUT --time-budget 400 --eval
Tiny CPU test:  python3 scripts/train_model.py --data .train_data --out /tmp/t --tiny --eval
"""
import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NEEDLE = " The pass key is {}. Remember it."
QUESTION = " What is the pass key? The pass key is"
CLASSIC = ("The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ")


# ----------------------------------------------------------------------------------------------
# Model: Llama (RMSNorm, RoPE in the HF rotate_half convention, GQA, SwiGLU), HF parameter names.
# ----------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, h, bias=False)

    def forward(self, x, cos, sin, mask=None):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        q, k = q.to(v.dtype), k.to(v.dtype)
        rep = self.nh // self.nkv
        if rep > 1:  # HF repeat_kv: KV head j serves query heads j*rep .. j*rep+rep-1
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c["tie_word_embeddings"]:
            self.lm_head.weight = self.model.embed_tokens.weight
        std = 0.02
        for n, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=std)
                if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                    p.data.mul_(1.0 / math.sqrt(2 * c["num_hidden_layers"]))
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv, persistent=False)

    def rope(self, T, device):
        t = torch.arange(T, device=device, dtype=torch.float32)
        f = torch.outer(t, self.inv_freq.to(device))
        emb = torch.cat((f, f), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def forward(self, idx, mask=None):
        cos, sin = self.rope(idx.shape[1], idx.device)
        x = self.model.embed_tokens(idx)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
class Data:
    def __init__(self, data_dir, sp, seed, pydoc_weight, dense_copy=True, small_alphabet=0.0):
        self.rng = np.random.default_rng(seed)
        self.dense_copy = dense_copy
        self.small_alphabet = small_alphabet
        self.src, self.w = [], []
        tokdir = os.path.join(data_dir, "tokens")
        for f in sorted(os.listdir(tokdir)):
            if f.startswith("train_") and f.endswith(".bin"):
                a = np.fromfile(os.path.join(tokdir, f), dtype=np.uint16).astype(np.int64)
                self.src.append((f[6:-4], a))
                self.w.append(a.size * (pydoc_weight if "pydoc" in f else 1.0))
        self.w = np.array(self.w) / np.sum(self.w)
        self.text_tokens = sum(a.size for _, a in self.src)
        V = sp.vocab_size()
        self.word_start = np.array([sp.id_to_piece(i).startswith("\u2581") for i in range(V)], dtype=bool)
        self.V = V
        self.sp = sp
        self.q_ids = sp.encode(QUESTION.strip())          # "What is the pass key? The pass key is"
        self.classic = np.array(sp.encode(CLASSIC * 64), dtype=np.int64)
        self.digits = np.array([sp.piece_to_id(str(d)) for d in range(10)], dtype=np.int64)

    def random_segment(self, L):
        """L random tokens: from the whole vocabulary, or (--small-alphabet of the time) from the ten
        digits or a random set of 2-16 tokens. With few symbols a token recurs inside the segment, so
        copying it needs a match on several preceding tokens, as a passkey's digits after "is" do
        (single-token induction is enough for the whole-vocabulary segments; run 3 learned only that)."""
        if self.rng.random() < self.small_alphabet:
            if self.rng.random() < 0.5:
                alphabet = self.digits
            else:
                alphabet = self.rng.integers(259, self.V, size=int(self.rng.integers(2, 17)))
            return alphabet[self.rng.integers(0, alphabet.size, size=L)]
        return self.rng.integers(259, self.V, size=L)

    def text_slice(self, n):
        k = self.rng.choice(len(self.src), p=self.w)
        a = self.src[k][1]
        s = int(self.rng.integers(0, a.size - n - 1))
        return a[s:s + n]

    def filler(self, n):
        """n tokens of filler starting at a word start (so joins look like tokenized text)."""
        if self.rng.random() < 0.2:
            s = int(self.rng.integers(0, 30))
            reps = (n + s) // self.classic.size + 2
            a = np.tile(self.classic, reps)
            while not self.word_start[a[s]]:
                s += 1
            return a[s:s + n]
        a = self.text_slice(n + 64)
        s = 0
        while s < 63 and not self.word_start[a[s]]:
            s += 1
        return a[s:s + n]

    def sample(self, kind, T):
        """Returns (tokens[T+1], group[T+1]); group of a target token: 0 none, 1 LM, 2 answer, 3 copy."""
        if kind == "text":
            # BOS first, as every evaluation prompt starts: without it the model only ever saw BOS before
            # passkey/copy samples and learned "BOS => copy mode" (run 3: held-out ppl 5,833 with BOS,
            # 97 without, on the same weights).
            return np.concatenate([[1], self.text_slice(T)]), np.ones(T + 1, dtype=np.int64)
        if kind == "passkey":
            key = "%05d" % int(self.rng.integers(0, 100000))
            needle = np.array(self.sp.encode(NEEDLE.format(key).strip()), dtype=np.int64)
            q = np.array(self.q_ids, dtype=np.int64)
            ans_full = np.array(self.sp.encode(QUESTION.strip() + " " + key + "."), dtype=np.int64)
            assert (ans_full[:q.size] == q).all()
            ans = ans_full[q.size:]                    # "▁ d d d d d ." (how the whole prompt tokenizes)
            nfill = T + 1 - 1 - needle.size - q.size - ans.size
            fill = self.filler(nfill)
            d = int(self.rng.integers(0, nfill + 1))
            toks = np.concatenate([[1], fill[:d], needle, fill[d:], q, ans])
            g = np.zeros(T + 1, dtype=np.int64)
            g[1 + d:1 + d + needle.size] = 1
            g[1 + d + 4:1 + d + 10] = 0          # the needle's random digits are unpredictable
            g[T + 1 - ans.size - q.size:T + 1 - ans.size] = 1
            g[T + 1 - ans.size:] = 2
            return toks[:T + 1], g
        if kind == "copy" and self.dense_copy and self.rng.random() < 0.5:
            # dense induction sample: BOS + a random segment repeated until the sequence is full
            L = int(self.rng.integers(16, max(17, min(T // 2, 512))))
            seg = self.random_segment(L) if self.rng.random() < 0.7 else self.text_slice(L)
            reps = (T + 1) // L + 1
            toks = np.concatenate([[1], np.tile(seg, reps)])[:T + 1]
            g = np.zeros(T + 1, dtype=np.int64)
            g[1 + L + 1:] = 3
            return toks, g
        if kind == "copy":
            npair = int(self.rng.integers(1, 5))
            segs = []
            for _ in range(npair):
                L = int(self.rng.integers(8, max(9, min(65, T // 32))))
                if self.rng.random() < 0.5:
                    segs.append(self.random_segment(L))
                else:
                    segs.append(self.text_slice(L))
            total = sum(2 * s.size for s in segs)
            nfill = T + 1 - 1 - total
            fill = self.filler(nfill)
            ev = []
            for i, s in enumerate(segs):
                a, b = sorted(self.rng.integers(0, nfill + 1, size=2).tolist())
                ev.append((a, 0, i))
                ev.append((b, 1, i))
            ev.sort()
            parts, groups, pos = [np.array([1])], [np.zeros(1, dtype=np.int64)], 0
            for p, second, i in ev:
                parts.append(fill[pos:p]); groups.append(np.zeros(p - pos, dtype=np.int64)); pos = p
                parts.append(segs[i])
                gg = np.full(segs[i].size, 3 if second else 0, dtype=np.int64)
                if second:
                    gg[0] = 0
                groups.append(gg)
            parts.append(fill[pos:]); groups.append(np.zeros(nfill - pos, dtype=np.int64))
            return np.concatenate(parts)[:T + 1], np.concatenate(groups)[:T + 1]
        raise ValueError(kind)

    def batch(self, B, T, p_text):
        xs, gs, kinds = [], [], []
        for _ in range(B):
            r = self.rng.random()
            kind = "text" if r < p_text else ("passkey" if self.rng.random() < 0.55 else "copy")
            t, g = self.sample(kind, T)
            assert t.size == T + 1 and g.size == T + 1, (kind, t.size, g.size)
            xs.append(t); gs.append(g); kinds.append(kind)
        x = torch.from_numpy(np.stack(xs))
        g = torch.from_numpy(np.stack(gs))
        return x[:, :-1], x[:, 1:], g[:, 1:], kinds


# ----------------------------------------------------------------------------------------------
# Export in Hugging Face format
# ----------------------------------------------------------------------------------------------
def hf_config(c):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c["vocab_size"],
        "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": c["head_dim"],
        "hidden_act": "silu",
        "max_position_embeddings": c["max_position_embeddings"],
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_theta": c["rope_theta"],
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "tie_word_embeddings": c["tie_word_embeddings"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": None,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": True,
        "torch_dtype": "bfloat16",
    }


def export(model, out, shard_bytes):
    from safetensors.torch import save_file
    sd = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight" and model.c["tie_word_embeddings"]:
            continue
        sd[k] = v.detach().to(torch.bfloat16).cpu().contiguous()
    names = ["model.embed_tokens.weight"]
    for i in range(model.c["num_hidden_layers"]):
        names += sorted(k for k in sd if k.startswith("model.layers.%d." % i))
    names += [k for k in sd if k not in names]
    shards, cur, size = [], [], 0
    for n in names:
        b = sd[n].numel() * 2
        if cur and size + b > shard_bytes:
            shards.append(cur); cur, size = [], 0
        cur.append(n); size += b
    shards.append(cur)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(model.c), f, indent=2)
    if len(shards) == 1:
        save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
        return ["model.safetensors"]
    wm, files = {}, []
    for i, s in enumerate(shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        save_file({n: sd[n] for n in s}, os.path.join(out, fn), metadata={"format": "pt"})
        files.append(fn)
        for n in s:
            wm[n] = fn
    total = sum(v.numel() * 2 for v in sd.values())
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2)
    return files


# ----------------------------------------------------------------------------------------------
# Evaluation (HF transformers on the exported directory; own model for the masked window)
# ----------------------------------------------------------------------------------------------
def passkey_prompt(sp, text, n_tokens, depth, key):
    """String prompt in the runtime's format, filler = held-out text, about n_tokens long (BOS incl.)."""
    words = text.split()
    # grow/shrink the filler word count until the prompt tokenizes to <= n_tokens
    def build(nw):
        fill = words[:nw]
        d = int(round(depth * len(fill)))
        s = " ".join(fill[:d]) + NEEDLE.format(key) + (" " if d < len(fill) else "") + " ".join(fill[d:]) + QUESTION
        return s.strip()
    lo, hi = 1, min(len(words), n_tokens * 2)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(sp.encode(build(mid))) + 1 <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    s = build(lo)
    return s, [1] + sp.encode(s)


@torch.no_grad()
def evaluate(out, repo, model_dir_tok, own_model, seq_len, dev, n_ppl, trials_per_depth, log):
    import sentencepiece as spm
    from transformers import LlamaForCausalLM
    res = {}
    sp = spm.SentencePieceProcessor(model_file=model_dir_tok)
    hf = LlamaForCausalLM.from_pretrained(out, torch_dtype=torch.bfloat16, attn_implementation="sdpa").to(dev).eval()
    own = own_model.eval()
    books = ["austen_persuasion.txt", "austen_northanger_abbey.txt"]
    for b in books:
        text = open(os.path.join(repo, "data", "heldout", b), encoding="utf-8").read()
        ids = torch.tensor([[1] + sp.encode(text)[:n_ppl - 1]], device=dev)
        r = {}
        lab = ids[:, 1:]
        logits = hf(ids).logits[:, :-1].float()
        r["ppl_full_hf"] = math.exp(F.cross_entropy(logits.reshape(-1, logits.size(-1)), lab.reshape(-1)).item())
        T = ids.shape[1]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            lo = own(ids).float()[:, :-1]
            r["ppl_full_own"] = math.exp(F.cross_entropy(lo.reshape(-1, lo.size(-1)), lab.reshape(-1)).item())
            i = torch.arange(T, device=dev)
            m = (i[None, :] <= i[:, None]) & ((i[None, :] < 4) | (i[:, None] - i[None, :] < 252))
            lo = own(ids, mask=m[None, None]).float()[:, :-1]
            r["ppl_stream256_own"] = math.exp(F.cross_entropy(lo.reshape(-1, lo.size(-1)), lab.reshape(-1)).item())
        # the same windowed mask through HF (a 4D boolean mask passed as attention_mask), if accepted
        try:
            lo = hf(ids, attention_mask=m[None, None]).logits[:, :-1].float()
            r["ppl_stream256_hf"] = math.exp(F.cross_entropy(lo.reshape(-1, lo.size(-1)), lab.reshape(-1)).item())
        except Exception as e:  # noqa
            r["ppl_stream256_hf"] = "n/a: %s" % str(e)[:100]
        r["tokens"] = T
        res[b] = r
        log(json.dumps({b: r}))
    # passkey with full attention
    filler_text = open(os.path.join(repo, "data", "heldout", "austen_persuasion.txt"), encoding="utf-8").read()
    filler_text = filler_text[filler_text.find("Chapter 1"):]
    rng = random.Random(4321)
    depths = [0.0, 0.25, 0.5, 0.75, 1.0]

    def run_pk(n_tokens, ftext, trials):
        ok, n, per = 0, 0, {}
        for d in depths:
            okd = 0
            for t in range(trials):
                key = "%05d" % rng.randrange(100000)
                off = rng.randrange(0, max(1, len(ftext) // 3))
                s, ids = passkey_prompt(sp, ftext[off:], n_tokens, d, key)
                x = torch.tensor([ids], device=dev)
                g = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=8, do_sample=False,
                                pad_token_id=2)
                outs = sp.decode(g[0, x.shape[1]:].tolist())
                m = re.search(r"\d{5}", outs)
                good = bool(m) and m.group(0) == key and outs.strip().startswith(key)
                okd += good
                if t == 0:
                    log("passkey len=%d depth=%.2f key=%s -> %r" % (x.shape[1], d, key, outs))
            per["%.2f" % d] = okd / trials
            ok += okd; n += trials
        return ok / n, per, n

    for name, L, ft in [("passkey_full_%d" % seq_len, seq_len, filler_text),
                        ("passkey_full_%d" % (2 * seq_len), 2 * seq_len, filler_text),
                        ("passkey_full_%d_classic_filler" % seq_len, seq_len, CLASSIC * 2000)]:
        try:
            acc, per, n = run_pk(L, ft, trials_per_depth if L == seq_len and "classic" not in name
                                 else max(1, trials_per_depth // 2))
            res[name] = {"accuracy": acc, "trials": n, "by_depth": per}
        except Exception as e:  # noqa
            res[name] = "error: %s" % str(e)[:200]
        log(json.dumps({name: res[name]}))
    return res


# ----------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".train_data")
    ap.add_argument("--tokenizer", default="models/adamas-tiny-8k/tokenizer.model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--rope-theta", type=float, default=100000.0)
    ap.add_argument("--seq-len", type=int, default=8192)
    ap.add_argument("--curriculum", default="256:0.12,1024:0.3,4096:0.5,8192:1.0",
                    help="seq_len:end_fraction_of_time,...; the last stage should be --seq-len")
    ap.add_argument("--no-dense-copy", action="store_true",
                    help="copy samples only as sparse insertions (the shipped run 1 recipe)")
    ap.add_argument("--small-alphabet", type=float, default=0.5,
                    help="fraction of random copy segments drawn from the ten digits or 2-16 tokens (0: run 3)")
    ap.add_argument("--init", default=None, help="warm start from an exported HF directory (safetensors)")
    ap.add_argument("--batch-tokens", type=int, default=65536, help="tokens per step for sequences shorter than 4096")
    ap.add_argument("--batch-tokens-long", type=int, default=131072,
                    help="tokens per step from 4096 tokens on (fewer, less noisy steps where each costs more)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--text-epochs", type=float, default=4.0)
    ap.add_argument("--pydoc-weight", type=float, default=0.5)
    ap.add_argument("--time-budget", type=float, default=400.0, help="seconds of training (wall clock)")
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--shard-mb", type=float, default=14.0)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--eval-ppl-tokens", type=int, default=8192)
    ap.add_argument("--eval-trials", type=int, default=5, help="passkey trials per depth (5 depths)")
    ap.add_argument("--tiny", action="store_true", help="CPU smoke test: tiny model, short sequences")
    a = ap.parse_args()
    if a.tiny:
        a.hidden, a.layers, a.heads, a.kv_heads, a.ffn = 256, 2, 2, 1, 256
        a.seq_len, a.batch_tokens, a.time_budget = 512, 2048, min(a.time_budget, 30)
        a.batch_tokens_long = 2048
        a.curriculum = "128:0.5,512:1.0"
        a.max_steps = min(a.max_steps, 12)
        a.warmup, a.eval_ppl_tokens, a.eval_trials = 2, 512, 1
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "train_log.txt"), "w")

    def log(s):
        print(s, flush=True)
        logf.write(s + "\n"); logf.flush()

    random.seed(a.seed); np.random.seed(a.seed); torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=a.tokenizer)
    c = dict(vocab_size=sp.vocab_size(), hidden_size=a.hidden, intermediate_size=a.ffn, num_hidden_layers=a.layers,
             num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, head_dim=128, rms_norm_eps=1e-5,
             rope_theta=a.rope_theta, max_position_embeddings=a.seq_len, tie_word_embeddings=True)
    model = Llama(c).to(dev)
    if a.init:
        from safetensors.torch import load_file
        sd = {}
        for f in sorted(os.listdir(a.init)):
            if f.endswith(".safetensors"):
                sd.update(load_file(os.path.join(a.init, f)))
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
        assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
        print("warm start from", a.init, flush=True)
    stages = [(int(x.split(":")[0]), float(x.split(":")[1])) for x in a.curriculum.split(",")]
    nparam = sum(p.numel() for p in model.parameters())
    log("args %s" % json.dumps(vars(a)))
    log("device %s %s params %d (%.1f MB bf16)" % (dev, torch.cuda.get_device_name() if dev.type == "cuda" else "",
                                                   nparam, nparam * 2 / 1e6))
    data = Data(a.data, sp, a.seed, a.pydoc_weight, dense_copy=not a.no_dense_copy, small_alphabet=a.small_alphabet)
    log("text tokens %d sources %s" % (data.text_tokens, [(n, x.size) for n, x in data.src]))
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda")
    text_target = a.text_epochs * sum(x.size * (a.pydoc_weight if n == "pydoc" else 1.0) for n, x in data.src)
    text_used, tok_total = 0, 0
    p_text = 0.3
    csvf = open(os.path.join(a.out, "loss_curve.csv"), "w", newline="")
    cw = csv.writer(csvf)
    cw.writerow(["step", "seconds", "tokens", "seq_len", "lr", "p_text", "loss", "loss_text", "loss_answer",
                 "loss_copy", "answer_token_acc", "copy_token_acc"])
    t0 = time.time()
    step = 0
    ema = {}
    recent = []  # (seconds, tokens) for the throughput estimate
    while step < a.max_steps:
        el = time.time() - t0
        if el >= a.time_budget:
            break
        frac = el / a.time_budget
        T = next((L for L, e in stages if frac < e), a.seq_len)
        B = max(1, (a.batch_tokens if T < 4096 else a.batch_tokens_long) // T)
        # adapt the text fraction so that the run ends near text_epochs epochs of text
        if step >= 10 and step % 10 == 0 and len(recent) >= 2:
            rate = (recent[-1][1] - recent[0][1]) / max(1e-6, recent[-1][0] - recent[0][0])
            remain = rate * max(1.0, a.time_budget - el)
            p_text = float(np.clip((text_target - text_used) / max(1.0, remain), 0.05, 0.8))
        if step < a.warmup:
            lr = a.lr * (step + 1) / a.warmup
        else:
            lr = a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
        for gparam in opt.param_groups:
            gparam["lr"] = lr
        x, y, g, kinds = data.batch(B, T, p_text)
        text_used += sum(T for k in kinds if k == "text")
        x, y, g = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True), g.to(dev, non_blocking=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(x)
        ce = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1), reduction="none").view(B, T)
        gf = g
        losses, parts = {}, []
        for name, gid in (("text", 1), ("answer", 2), ("copy", 3)):
            m = (gf == gid)
            n = m.sum()
            if n.item() > 0:
                l = (ce * m).sum() / n
                parts.append(l)
                losses[name] = l
        loss = sum(parts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tok_total += B * T
        now = time.time() - t0
        recent.append((now, tok_total))
        recent = recent[-30:]
        if step % 10 == 0 or step <= 3:
            with torch.no_grad():
                pred = logits.argmax(-1)
                acc = {}
                for name, gid in (("answer", 2), ("copy", 3)):
                    m = gf == gid
                    acc[name] = ((pred == y) & m).sum().item() / max(1, m.sum().item())
            vals = {k: v.item() for k, v in losses.items()}
            cw.writerow([step, "%.1f" % now, tok_total, T, "%.3g" % lr, "%.3f" % p_text, "%.4f" % loss.item(),
                         "%.4f" % vals.get("text", float("nan")), "%.4f" % vals.get("answer", float("nan")),
                         "%.4f" % vals.get("copy", float("nan")), "%.3f" % acc["answer"], "%.3f" % acc["copy"]])
            csvf.flush()
            if step % 50 == 0 or step <= 3:
                log("step %d t=%.0fs tok=%.1fM T=%d lr=%.2e p_text=%.2f loss=%.3f %s acc=%s text_epochs=%.2f" % (
                    step, now, tok_total / 1e6, T, lr, p_text, loss.item(),
                    {k: round(v, 3) for k, v in vals.items()}, {k: round(v, 3) for k, v in acc.items()},
                    text_used / max(1, text_target / a.text_epochs)))
    train_s = time.time() - t0
    log("trained %d steps, %.1f s, %.1fM tokens (%.2f text epochs)" % (step, train_s, tok_total / 1e6,
                                                                        text_used / max(1, text_target / a.text_epochs)))
    files = export(model, a.out, int(a.shard_mb * 1e6))
    # The tokenizer goes with the weights, so the directory loads as it is (runtime, transformers).
    for suffix in (".model", ".vocab"):
        src = os.path.splitext(a.tokenizer)[0] + suffix
        if os.path.exists(src):
            shutil.copy(src, os.path.join(a.out, "tokenizer" + suffix))
    log("exported %s" % files)
    summary = {"steps": step, "train_seconds": train_s, "train_tokens": tok_total,
               "text_epochs": text_used / max(1, text_target / a.text_epochs), "params": nparam, "files": files,
               "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"}
    if a.eval:
        te = time.time()
        summary["eval"] = evaluate(a.out, repo, a.tokenizer, model, a.seq_len, dev, a.eval_ppl_tokens,
                                   a.eval_trials, log)
        summary["eval_seconds"] = time.time() - te
    with open(os.path.join(a.out, "eval.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log(json.dumps(summary))


if __name__ == "__main__":
    main()
