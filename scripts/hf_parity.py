#!/usr/bin/env python3
"""Parity of the adamas runtime with Hugging Face transformers: next-token logits of every position
of a long prompt, full attention, fp32 weights and fp32 KV cache on both sides.

Our side:  `adamas logits --mode prefill` (dense chunked prefill) and `--mode decode` (one decode
           step per token, policy full), with --weights f32 --kv-dtype f32; the token ids it used
           are written next to the logits so both sides see exactly the same input.
HF side :  LlamaForCausalLM.from_pretrained(model, torch_dtype=float32, attn_implementation="eager").
Metric  :  per position, max |ours - hf| / max |hf| over the vocabulary; pass when every position
           is <= --tolerance (1e-3).

Model: --model DIR, else models/adamas-tiny-8k when it has config.json, else a random checkpoint
of the bundled model's shape written by this script (numpy only) with the bundled tokenizer.

Recorded (CPU, transformers 5.24.0, torch 2.15.0, adamas-tiny-8k bf16 weights widened to fp32, first 8192
tokens of data/heldout/austen_persuasion.txt, eager attention on the HF side):
  prefill  max rel err 9.1e-06 (mean 7.7e-07), argmax agreement 1.0000   PASS
  decode   max rel err 4.8e-05 (mean 7.9e-07), argmax agreement 1.0000   PASS
  (random checkpoint of the same shape, 2048 tokens: 2.3e-06 / 1.8e-06)
Recorded on the H200 machine (2026-11-28; transformers 5.17.0, torch 2.11.0+cu130, HF in fp32 on the GPU
with TF32 off; ours: --device cuda, f32 weights and cache; checkpoint: the run-3 training candidate of
the bundled model's architecture, models/adamas-tiny-8k/attempts/run3A_*; first 8192 tokens of
Persuasion): docs/results/hf_parity_h200.json
  prefill  max rel err 3.8e-05 (mean 2.5e-06), argmax agreement 1.0000   PASS
  decode   max rel err 8.0e-05 (mean 3.2e-06), argmax agreement 1.0000   PASS

Example:  python3 scripts/hf_parity.py --adamas build/adamas --tokens 2048 --json parity.json
Random checkpoint only (no torch needed):  python3 scripts/hf_parity.py --make-random /tmp/rand
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_safetensors(path, tensors):
    """tensors: name -> float32 array; stored as BF16 (the bundled model's format)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
        bf16 = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
        raw = bf16.tobytes()
        header[name] = {"dtype": "BF16", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def make_random_checkpoint(out, seed=0, hidden=512, layers=6, heads=4, kv_heads=2, head_dim=128, ffn=1024,
                           vocab=8192, rope_theta=100000.0, rope_scaling=None):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "head_dim": head_dim, "hidden_act": "silu", "rms_norm_eps": 1e-5,
        "rope_theta": rope_theta, "rope_scaling": rope_scaling, "max_position_embeddings": 8192,
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16",
        "attention_bias": False, "mlp_bias": False,
    }
    t = {}
    std = 0.05  # larger than training init so attention is not uniform and logits are not all ~0
    t["model.embed_tokens.weight"] = rng.normal(0, 1.0, (vocab, hidden))
    for i in range(layers):
        p = "model.layers.%d." % i
        t[p + "self_attn.q_proj.weight"] = rng.normal(0, std, (heads * head_dim, hidden))
        t[p + "self_attn.k_proj.weight"] = rng.normal(0, std, (kv_heads * head_dim, hidden))
        t[p + "self_attn.v_proj.weight"] = rng.normal(0, std, (kv_heads * head_dim, hidden))
        t[p + "self_attn.o_proj.weight"] = rng.normal(0, std, (hidden, heads * head_dim))
        t[p + "mlp.gate_proj.weight"] = rng.normal(0, std, (ffn, hidden))
        t[p + "mlp.up_proj.weight"] = rng.normal(0, std, (ffn, hidden))
        t[p + "mlp.down_proj.weight"] = rng.normal(0, std, (hidden, ffn))
        t[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, hidden)
        t[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, hidden)
    t["model.norm.weight"] = 1 + rng.normal(0, 0.1, hidden)
    t["lm_head.weight"] = rng.normal(0, std, (vocab, hidden))
    write_safetensors(os.path.join(out, "model.safetensors"), t)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    tok = os.path.join(REPO, "models", "adamas-tiny-8k", "tokenizer.model")
    shutil.copy(tok, os.path.join(out, "tokenizer.model"))
    return out


def default_text():
    for rel in ("data/heldout/austen_persuasion.txt", "data/excerpts/northanger_abbey_opening.txt"):
        path = os.path.join(REPO, rel)
        if os.path.exists(path):
            return path
    sys.exit("no text given and no bundled text found")


def run_ours(adamas, model, text, tokens, mode, workdir, threads, device="cpu"):
    logits_path = os.path.join(workdir, "logits_%s.npy" % mode)
    ids_path = os.path.join(workdir, "ids_%s.npy" % mode)
    cmd = [adamas, "logits", "--model", model, "--text", text, "--max-tokens", str(tokens), "--mode", mode,
           "--out", logits_path, "--tokens-out", ids_path, "--weights", "f32", "--kv-dtype", "f32",
           "--policy", "full"]
    if threads:
        cmd += ["--threads", str(threads)]
    if device != "cpu":
        cmd += ["--device", device]
    start = time.time()
    subprocess.run(cmd, check=True)
    return np.load(logits_path), np.load(ids_path), time.time() - start


def relative_errors(ours, ref):
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max(axis=1)
    scale = np.abs(ref.astype(np.float64)).max(axis=1)
    return diff / np.maximum(scale, 1e-30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adamas", default=os.path.join(REPO, "build", "adamas"), help="the adamas CLI binary")
    ap.add_argument("--model", help="HF checkpoint directory (default: the bundled model, else a random one)")
    ap.add_argument("--text", help="prompt text file (default: a bundled held-out book)")
    ap.add_argument("--tokens", type=int, default=2048, help="prompt tokens (BOS included)")
    ap.add_argument("--modes", default="prefill,decode")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device of our runtime")
    ap.add_argument("--hf-device", default="auto", help="device of the transformers model (auto: cuda if present)")
    ap.add_argument("--make-random", metavar="DIR", help="only write a random checkpoint to DIR and exit")
    args = ap.parse_args()

    if args.make_random:
        make_random_checkpoint(args.make_random)
        print("wrote", args.make_random)
        return 0

    import torch
    from transformers import LlamaForCausalLM
    import transformers

    workdir = tempfile.mkdtemp(prefix="adamas_parity_")
    model = args.model
    bundled = os.path.join(REPO, "models", "adamas-tiny-8k")
    if not model:
        model = bundled if os.path.exists(os.path.join(bundled, "config.json")) else make_random_checkpoint(
            os.path.join(workdir, "random_model"))
    text = args.text or default_text()
    torch.set_num_threads(max(1, args.threads or os.cpu_count()))
    hf_device = args.hf_device if args.hf_device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    # fp32 on the GPU too: no TF32 in the reference's matrix products.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    hf = LlamaForCausalLM.from_pretrained(model, torch_dtype=torch.float32, attn_implementation="eager").eval()
    hf = hf.to(hf_device)

    result = {"model": model, "text": text, "transformers": transformers.__version__, "torch": torch.__version__,
              "tolerance": args.tolerance, "ours_device": args.device, "hf_device": hf_device,
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "modes": {}}
    hf_logits, hf_ids = None, None
    ok = True
    for mode in args.modes.split(","):
        ours, ids, seconds = run_ours(args.adamas, model, text, args.tokens, mode, workdir, args.threads, args.device)
        if hf_logits is None or not np.array_equal(ids, hf_ids):
            with torch.no_grad():
                hf_logits = hf(torch.tensor(ids[None, :].astype(np.int64), device=hf_device)).logits[0].float().cpu().numpy()
            hf_ids = ids
        rel = relative_errors(ours, hf_logits)
        agree = float(np.mean(ours.argmax(axis=1) == hf_logits.argmax(axis=1)))
        passed = bool(rel.max() <= args.tolerance)
        ok &= passed
        result["modes"][mode] = {"tokens": int(len(ids)), "max_rel_err": float(rel.max()),
                                 "mean_rel_err": float(rel.mean()), "worst_position": int(rel.argmax()),
                                 "argmax_agreement": agree, "ours_seconds": seconds, "pass": passed}
        print("%-8s tokens %d  max rel err %.3e (position %d)  mean %.3e  argmax agree %.4f  %s" %
              (mode, len(ids), rel.max(), rel.argmax(), rel.mean(), agree, "PASS" if passed else "FAIL"))
    result["pass"] = ok
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
