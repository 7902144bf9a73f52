#!/usr/bin/env python3
"""Passkey retrieval with SmolLM2-Instruct's chat template, through `adamas generate` (greedy).
The prompt is the same needle/question as `adamas passkey` (include/adamas/eval/passkey.h) inside a user
turn, the answer prefix "The pass key is" in the assistant turn. The runtime prepends BOS = <|im_start|>
(id 1), so the file starts with "system\n..." and the token sequence is exactly the chat template.
Token counts use transformers' tokenizer from the GGUF with SmolLM2's Digits+ByteLevel pre-tokenizer,
which gives our ids (scripts/gguf_parity.py). Prefill is dense; every answer token is a decode step with
the policy.
Usage: passkey_chat.py --length 4096 --depths 0,50,100 --trials 1 --out X.json -- [adamas policy args]"""
import argparse, json, os, random, re, subprocess, sys, time
from transformers import AutoTokenizer
from tokenizers import pre_tokenizers

ap = argparse.ArgumentParser()
ap.add_argument("--adamas", default="build-smol/adamas")
ap.add_argument("--gguf", default=os.path.expanduser("~/.cache/adamas/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
ap.add_argument("--filler", default="data/heldout/austen_persuasion.txt")
ap.add_argument("--length", type=int, default=4096)
ap.add_argument("--depths", default="0,50,100")
ap.add_argument("--trials", type=int, default=1)
ap.add_argument("--seed", type=int, default=1234)
ap.add_argument("--out", required=True)
ap.add_argument("policy", nargs=argparse.REMAINDER)
a = ap.parse_args()
policy = [x for x in a.policy if x != "--"]
d, f = os.path.split(a.gguf)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
    [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
words = open(a.filler, encoding="utf-8").read().split()
head = "system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n"
tail_q = "\nWhat is the pass key?<|im_end|>\n<|im_start|>assistant\nThe pass key is"
rng = random.Random(a.seed)
trials = []
for depth in [int(x) for x in a.depths.split(",")]:
    for _ in range(a.trials):
        key = "%05d" % rng.randrange(100000)
        start = rng.randrange(len(words) // 3)
        needle = "The pass key is %s. Remember it." % key
        def build(nw):
            w = words[start:start + nw]
            k = round(depth / 100 * nw)
            return head + " ".join(w[:k] + [needle] + w[k:]) + tail_q
        lo, hi = 1, 2 * a.length
        while lo < hi:  # most filler words with 1 (BOS) + tokens <= length
            mid = (lo + hi + 1) // 2
            if 1 + len(tok(build(mid), add_special_tokens=False)["input_ids"]) <= a.length:
                lo = mid
            else:
                hi = mid - 1
        text = build(lo)
        path = a.out + ".prompt.txt"
        open(path, "w", encoding="utf-8").write(text)
        t0 = time.time()
        r = subprocess.run([a.adamas, "generate", "--model", a.gguf, "--prompt-file", path, "--max-new", "8",
                            "--threads", "1", "--weights", "bf16", "--no-progress"] + policy,
                           capture_output=True, text=True, check=True)
        answer = r.stdout
        digits = re.findall(r"\d{5}", answer)
        trials.append({"depth": depth, "key": key, "answer": answer.strip(), "correct": bool(digits) and digits[0] == key,
                       "prompt_tokens": 1 + len(tok(text, add_special_tokens=False)["input_ids"]),
                       "seconds": time.time() - t0, "stats": r.stderr.strip().splitlines()[-1:]})
        print(trials[-1], flush=True)
os.remove(a.out + ".prompt.txt")
acc = sum(t["correct"] for t in trials) / len(trials)
json.dump({"length": a.length, "policy_args": policy, "template": "chatml (SmolLM2-Instruct)", "accuracy": acc,
           "trials": trials}, open(a.out, "w"), indent=1)
print("accuracy", acc)
