#!/usr/bin/env python3
"""Parity of the adamas runtime with Hugging Face transformers on a GGUF checkpoint (SmolLM2-135M-Instruct
Q4_1 by default): next-token logits of every position of a long prompt, full attention, fp32 on both sides.

Both sides dequantize the same quantized blocks of the same file to fp32:
  ours : `adamas logits --model X.gguf --weights f32 --kv-dtype f32 --policy full`, --mode prefill (dense
         chunked prefill) and --mode decode (one decode step per token); the ids it used are saved and fed
         to HF unchanged (tokenized by our byte-level BPE, BOS included as our eval commands do).
  HF   : AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, torch_dtype=float32, eager attention);
         transformers dequantizes through the `gguf` package and un-permutes q/k itself.
Metric: per position, max |ours - hf| / max |hf| over the vocabulary; PASS when every position <= 1e-3.

Side checks (reported, not part of PASS):
  - tokenizer: HF's tokenizer built from the same GGUF metadata vs ours on the same text (ids without BOS);
  - q/k un-permutation: HF's q_proj/k_proj vs the GGUF tensors dequantized by `gguf` and un-permuted with
    llama.cpp's convert_hf_to_gguf.py permute() inverted (rows of a head: [half0 pairs..] <- interleaved).

Example:
  python3 scripts/gguf_parity.py --adamas build-smol/adamas --tokens 2048 --threads 1 --json parity.json
"""
import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_GGUF = os.path.join(os.environ.get("ADAMAS_SMOLLM2_CACHE", os.path.expanduser("~/.cache/adamas/smollm2")),
                            "SmolLM2-135M-Instruct.Q4_1.gguf")


def run_ours(adamas, model, text, tokens, mode, workdir, threads, device="cpu"):
    logits_path = os.path.join(workdir, "logits_%s.npy" % mode)
    ids_path = os.path.join(workdir, "ids_%s.npy" % mode)
    cmd = [adamas, "logits", "--model", model, "--text", text, "--max-tokens", str(tokens), "--mode", mode,
           "--out", logits_path, "--tokens-out", ids_path, "--weights", "f32", "--kv-dtype", "f32",
           "--policy", "full", "--no-progress"]
    if threads:
        cmd += ["--threads", str(threads)]
    if device != "cpu":
        cmd += ["--device", device]
    start = time.time()
    subprocess.run(cmd, check=True)
    return np.load(logits_path, mmap_mode="r"), np.load(ids_path), time.time() - start, " ".join(cmd)


def relative_errors(ours, ref):
    rows = []
    for i in range(ref.shape[0]):  # row by row: 2K x 49K logits in float64 would be 800 MB
        o, r = np.asarray(ours[i], dtype=np.float64), np.asarray(ref[i], dtype=np.float64)
        rows.append(np.abs(o - r).max() / max(np.abs(r).max(), 1e-30))
    return np.array(rows)


def check_tokenizer(gguf_dir, gguf_name, text_path, our_ids, bos_id):
    """Compares our ids (BOS first) with HF's tokenizer from the GGUF on the same text prefix."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    hf_ids = tok(text, add_special_tokens=False)["input_ids"]
    ours = [int(x) for x in our_ids[1:]] if our_ids[0] == bos_id else [int(x) for x in our_ids]
    n = len(ours)
    hf = hf_ids[:n]
    mismatch = next((i for i in range(n) if i >= len(hf) or hf[i] != ours[i]), None)
    out = {"hf_tokenizer_class": type(tok).__name__, "compared_tokens": n, "first_mismatch": mismatch,
           "identical": mismatch is None, "hf_whole_text_tokens": len(hf_ids),
           "hf_add_bos": bool(tok("a")["input_ids"][0] == bos_id)}
    if mismatch is not None:
        lo = max(0, mismatch - 3)
        out["ours_near_mismatch"] = ours[lo:mismatch + 4]
        out["hf_near_mismatch"] = hf[lo:mismatch + 4]
        out["ours_text"] = tok.decode(ours[lo:mismatch + 4])
        out["hf_text"] = tok.decode(hf[lo:mismatch + 4])
    return out


PROBE_TEXT = ("Digits 1234567 and 3.14159, year 1817; dates 12/03/2024. Contractions: don't, I'm, we'll, they've. "
              "Whitespace:  two  spaces,\ttab,\n\n\nthree newlines.   Unicode: caf\u00e9 na\u00efve \u00c6sop "
              "\u201cquoted\u201d \u2014 dash, \u00bd, \u2163, \u0661\u0662\u0663, \u4e2d\u6587, \U0001F600 emoji. "
              "CamelCase_snake-case x+=y**2; <|im_start|> stays text? URL https://example.org/a?b=c&d=1")


def probe_tokenizer(adamas, gguf_dir, gguf_name, workdir, bos_id):
    """Our ids vs HF's on a short text full of digits, contractions, whitespace runs and non-ASCII."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    # Its own folder: the main run's logits file is memory-mapped, and writing over it kills the
    # process with SIGBUS (seen on the H200 machine).
    probe_dir = os.path.join(workdir, "probe")
    os.makedirs(probe_dir, exist_ok=True)
    path = os.path.join(probe_dir, "probe.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(PROBE_TEXT)
    _, ids, _, _ = run_ours(adamas, os.path.join(gguf_dir, gguf_name), path, 0, "prefill", probe_dir, 1)
    ours = [int(x) for x in ids[1:]] if ids[0] == bos_id else [int(x) for x in ids]
    hf = tok(PROBE_TEXT, add_special_tokens=False)["input_ids"]
    # transformers' GGUF converter ignores tokenizer.ggml.pre = "smollm" and builds a plain ByteLevel
    # pre-tokenizer; SmolLM2's own tokenizer.json has Digits(individual_digits) then ByteLevel, which is
    # what ours implements. Same vocab and merges with that pre-tokenizer:
    from tokenizers import pre_tokenizers
    pre = json.loads(tok.backend_tokenizer.to_str())["pre_tokenizer"]
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    hf_smollm = tok(PROBE_TEXT, add_special_tokens=False)["input_ids"]
    first = next((i for i in range(min(len(ours), len(hf))) if ours[i] != hf[i]), None)
    return {"text": PROBE_TEXT, "hf_converted_pre_tokenizer": pre, "tokens_ours": len(ours),
            "tokens_hf_converted": len(hf), "identical_to_hf_converted": ours == hf,
            "first_difference_hf_converted": first,
            "ours_there": ours[first:first + 6] if first is not None else None,
            "hf_converted_there": hf[first:first + 6] if first is not None else None,
            "identical_to_hf_with_smollm_pre_tokenizer": ours == hf_smollm,
            "roundtrip_ours": tok.decode(ours) == PROBE_TEXT}


def check_qk_permutation(gguf_path, hf_model, layers=(0, 15, 29)):
    """HF's q/k weights vs GGUF tensors dequantized by `gguf` and un-permuted per llama.cpp's convention."""
    from gguf import GGUFReader
    from gguf.quants import dequantize
    reader = GGUFReader(gguf_path)
    tensors = {t.name: t for t in reader.tensors}
    cfg = hf_model.config
    sd = hf_model.state_dict()

    def unpermute(w, n_head):  # inverse of llama.cpp permute(): reshape(n_head, 2, hd/2, in) <- (n_head, hd/2, 2, in)
        return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    out = {}
    for layer in layers:
        for kind, heads in (("q", cfg.num_attention_heads), ("k", cfg.num_key_value_heads)):
            t = tensors["blk.%d.attn_%s.weight" % (layer, kind)]
            raw = dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))  # gguf shape is [in, out]
            hf_w = sd["model.layers.%d.self_attn.%s_proj.weight" % (layer, kind)].float().cpu().numpy()
            out["layer%d.%s" % (layer, kind)] = {
                "max_abs_diff_unpermuted": float(np.abs(unpermute(raw, heads) - hf_w).max()),
                "max_abs_diff_as_stored": float(np.abs(raw - hf_w).max()),
                "tensor_type": t.tensor_type.name}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adamas", default=os.path.join(REPO, "build", "adamas"))
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--text", default=os.path.join(REPO, "data", "heldout", "austen_persuasion.txt"))
    ap.add_argument("--tokens", type=int, default=2048, help="prompt tokens (BOS included)")
    ap.add_argument("--modes", default="prefill,decode")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device of our runtime")
    ap.add_argument("--hf-device", default="auto", help="device of the transformers model (auto: cuda if present)")
    args = ap.parse_args()

    import torch
    import transformers
    import gguf
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(max(1, args.threads))
    gguf_dir, gguf_name = os.path.split(os.path.abspath(args.gguf))
    start = time.time()
    hf = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32,
                                              attn_implementation="eager").eval()
    hf_device = args.hf_device if args.hf_device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 reference: no TF32 products on the GPU
    torch.backends.cudnn.allow_tf32 = False
    hf = hf.to(hf_device)
    load_seconds = time.time() - start
    result = {"gguf": args.gguf, "text": os.path.relpath(args.text, REPO), "transformers": transformers.__version__,
              "torch": torch.__version__, "gguf_package": importlib.metadata.version("gguf"),
              "numpy": np.__version__, "tolerance": args.tolerance, "hf_load_seconds": load_seconds,
              "hf_model_class": type(hf).__name__, "ours_device": args.device, "hf_device": hf_device,
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "modes": {}}
    result["qk_permutation"] = check_qk_permutation(args.gguf, hf)

    workdir = tempfile.mkdtemp(prefix="adamas_gguf_parity_")
    hf_logits, hf_ids, ok = None, None, True
    try:
        for mode in args.modes.split(","):
            ours, ids, seconds, cmd = run_ours(args.adamas, args.gguf, args.text, args.tokens, mode, workdir,
                                               args.threads, args.device)
            if "tokenizer_probe" not in result:
                result["tokenizer_probe"] = probe_tokenizer(args.adamas, gguf_dir, gguf_name, workdir,
                                                            hf.config.bos_token_id or 1)
            if "tokenizer" not in result:
                result["tokenizer"] = check_tokenizer(gguf_dir, gguf_name, args.text, ids,
                                                      hf.config.bos_token_id if hf.config.bos_token_id is not None
                                                      else 1)
                result["first_ids"] = [int(x) for x in ids[:8]]
            if hf_logits is None or not np.array_equal(ids, hf_ids):
                start = time.time()
                with torch.no_grad():
                    hf_logits = hf(torch.tensor(ids[None, :].astype(np.int64), device=hf_device)).logits[0].float().cpu().numpy()
                result["hf_forward_seconds"] = time.time() - start
                hf_ids = ids
            rel = relative_errors(ours, hf_logits)
            agree = float(np.mean(np.asarray(ours).argmax(axis=1) == hf_logits.argmax(axis=1)))
            passed = bool(rel.max() <= args.tolerance)
            ok &= passed
            result["modes"][mode] = {"tokens": int(len(ids)), "max_rel_err": float(rel.max()),
                                     "mean_rel_err": float(rel.mean()), "median_rel_err": float(np.median(rel)),
                                     "worst_position": int(rel.argmax()), "argmax_agreement": agree,
                                     "ours_seconds": seconds, "command": cmd, "pass": passed}
            print("%-8s tokens %d  max rel err %.3e (position %d)  mean %.3e  argmax agree %.4f  %s" %
                  (mode, len(ids), rel.max(), rel.argmax(), rel.mean(), agree, "PASS" if passed else "FAIL"),
                  flush=True)
            del ours
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["pass"] = ok
    print(json.dumps({k: result[k] for k in ("tokenizer", "tokenizer_probe", "first_ids")}, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
