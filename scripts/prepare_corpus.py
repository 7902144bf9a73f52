#!/usr/bin/env python3
"""Build the text splits, the tokenizer and the token arrays for the bundled model.

Splits (see data/SOURCES.md):
  held-out   : Austen's Persuasion and Northanger Abbey, whole books, never trained on.
               Written (normalized, see below) to data/heldout/*.txt.
  validation : every 20th State of the Union address (file index % 20 == 10), never trained on.
               Written to data/validation/sotu_validation.txt (one address per paragraph block).
  train      : the other four Austen novels, the KJV Bible, the remaining SOTU addresses, plus
               the World English Bible (Debian sword-text-web, public domain) and the Python 3.11
               documentation sources (Debian python3.11-doc, PSF license) unless --no-extra.

Normalization (applied identically to every split, so the held-out files are what the model sees):
  hard-wrapped lines are joined into paragraphs, runs of spaces collapse to one space,
  paragraphs are separated by one blank line ("\\n\\n").

Outputs:
  data/heldout/, data/validation/, data/excerpts/   (committed; small)
  <work>/text/<source>.txt                          (training text, not committed)
  <work>/tokens/<split>_<source>.bin               (uint16 token ids, documents joined by EOS BOS)
  models/adamas-tiny-8k/tokenizer.model (+ .vocab)  (spm_train on the training text only)

Reproduce:  python3 scripts/prepare_corpus.py            (needs spm_train, python3-sentencepiece,
            numpy, and apt-get download for the two extra Debian packages)
"""
import argparse
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

HELDOUT = ["austen_persuasion.txt", "austen_northanger_abbey.txt"]
EXTRA_DEBS = ["sword-text-web", "python3.11-doc"]


def norm_paragraphs(text):
    """Join hard-wrapped lines into paragraphs; collapse spaces; blank line between paragraphs."""
    paras = re.split(r"\n\s*\n", text.replace("\r", ""))
    out = []
    for p in paras:
        p = re.sub(r"\s+", " ", p).strip()
        if p:
            out.append(p)
    return "\n\n".join(out)


def read_kjv(path):
    """KJV: one verse per line prefixed like 'Ge1:1'. One paragraph per chapter."""
    chapters, cur, key = [], [], None
    rx = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+)\s+(.*)$")
    for line in open(path, encoding="utf-8"):
        m = rx.match(line.strip())
        if not m:
            continue
        k = (m.group(1), m.group(2))
        if k != key and cur:
            chapters.append(" ".join(cur))
            cur = []
        key = k
        cur.append(m.group(4).strip())
    if cur:
        chapters.append(" ".join(cur))
    return "\n\n".join(re.sub(r"\s+", " ", c) for c in chapters)


def read_sword_ztext(moddir):
    """SWORD zText module (OSIS markup): .bzs block index, .bzz zlib blocks, .bzv verse index."""
    parts = []
    for t in ("ot", "nt"):
        bzs = open(os.path.join(moddir, t + ".bzs"), "rb").read()
        bzz = open(os.path.join(moddir, t + ".bzz"), "rb").read()
        bzv = open(os.path.join(moddir, t + ".bzv"), "rb").read()
        blocks = []
        for i in range(0, len(bzs), 12):
            off, sz, _ = struct.unpack("<III", bzs[i:i + 12])
            blocks.append(zlib.decompress(bzz[off:off + sz]))
        for i in range(0, len(bzv), 10):
            b, o, s = struct.unpack("<IIH", bzv[i:i + 10])
            if s:
                parts.append(blocks[b][o:o + s].decode("utf-8"))
    x = " ".join(parts)
    x = re.sub(r"<note\b.*?</note>", " ", x, flags=re.S)          # footnotes
    x = re.sub(r"<title\b.*?</title>", "\n\n", x, flags=re.S)     # headings -> paragraph break
    x = re.sub(r'<div eID="[^"]*" type="x-p"/>', "\n\n", x)        # paragraph ends
    x = re.sub(r"<chapter\b[^>]*sID[^>]*/>", "\n\n", x)
    x = re.sub(r"<[^>]+>", "", x)
    x = x.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    return norm_paragraphs(x)


def fetch_debs(debdir):
    os.makedirs(debdir, exist_ok=True)
    root = os.path.join(debdir, "root")
    for pkg in EXTRA_DEBS:
        debs = glob.glob(os.path.join(debdir, pkg + "_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", pkg], cwd=debdir, check=True)
            debs = glob.glob(os.path.join(debdir, pkg + "_*.deb"))
        for d in debs:
            subprocess.run(["dpkg", "-x", d, root], check=True)
    return root, sorted(os.path.basename(d) for d in glob.glob(os.path.join(debdir, "*.deb")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/shared/corpus")
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--work", default=None, help="default: <repo>/.train_data (git-ignored)")
    ap.add_argument("--debdir", default="/tmp/adamas_debs")
    ap.add_argument("--no-extra", action="store_true")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--model-dir", default=None, help="default: <repo>/models/adamas-tiny-8k")
    a = ap.parse_args()
    repo = a.repo
    work = a.work or os.path.join(repo, ".train_data")
    mdir = a.model_dir or os.path.join(repo, "models", "adamas-tiny-8k")
    for d in (os.path.join(work, "text"), os.path.join(work, "tokens"), mdir,
              os.path.join(repo, "data", "heldout"), os.path.join(repo, "data", "validation"),
              os.path.join(repo, "data", "excerpts")):
        os.makedirs(d, exist_ok=True)

    train = {}   # source -> list of documents
    # Austen
    for f in sorted(glob.glob(os.path.join(a.corpus, "austen_*.txt"))):
        name = os.path.basename(f)
        txt = norm_paragraphs(open(f, encoding="utf-8").read())
        if name in HELDOUT:
            with open(os.path.join(repo, "data", "heldout", name), "w", encoding="utf-8") as fo:
                fo.write(txt + "\n")
        else:
            train.setdefault("austen", []).append(txt)
    # KJV
    train["kjv"] = [read_kjv(os.path.join(a.corpus, "kjv_bible.txt"))]
    # SOTU
    val = []
    for i, f in enumerate(sorted(glob.glob(os.path.join(a.corpus, "sotu", "*.txt")))):
        txt = norm_paragraphs(open(f, encoding="utf-8").read())
        if i % 20 == 10:
            val.append((os.path.basename(f), txt))
        else:
            train.setdefault("sotu", []).append(txt)
    with open(os.path.join(repo, "data", "validation", "sotu_validation.txt"), "w", encoding="utf-8") as fo:
        fo.write("\n\n".join(t for _, t in val) + "\n")
    with open(os.path.join(repo, "data", "validation", "sotu_validation_files.txt"), "w") as fo:
        fo.write("\n".join(n for n, _ in val) + "\n")
    # Demo excerpt: the first ~60 KB of Northanger Abbey (held-out), cut at a paragraph end.
    na = open(os.path.join(repo, "data", "heldout", "austen_northanger_abbey.txt"), encoding="utf-8").read()
    cut = na.rfind("\n\n", 0, 60000)
    with open(os.path.join(repo, "data", "excerpts", "northanger_abbey_opening.txt"), "w", encoding="utf-8") as fo:
        fo.write(na[:cut] + "\n")

    debs = []
    if not a.no_extra:
        root, debs = fetch_debs(a.debdir)
        web = glob.glob(os.path.join(root, "usr/share/sword/modules/texts/ztext/*"))[0]
        train["web"] = [read_sword_ztext(web)]
        docs = []
        for f in sorted(glob.glob(os.path.join(root, "usr/share/doc/python3.11/html/_sources/**/*.txt"),
                               recursive=True)):
            t = open(f, encoding="utf-8", errors="replace").read().strip()
            if len(t) > 200:
                docs.append(t)
        train["pydoc"] = docs

    # Write training text (one file per source) and a sentence-split copy for spm_train
    # (it skips input lines longer than --max_sentence_length, e.g. one-line SOTU addresses).
    spm_inputs = []
    for src, docs in train.items():
        with open(os.path.join(work, "text", src + ".txt"), "w", encoding="utf-8") as fo:
            fo.write("\n\n".join(docs) + "\n")
        p = os.path.join(work, "text", src + ".spm_input.txt")
        with open(p, "w", encoding="utf-8") as fo:
            for d in docs:
                for line in d.split("\n"):
                    for piece in re.split(r"(?<=[.!?;]) ", line):
                        if piece.strip():
                            fo.write(piece[:4000] + "\n")
        spm_inputs.append(p)

    # Tokenizer: Llama-2 style sentencepiece BPE, trained on the training text only.
    prefix = os.path.join(mdir, "tokenizer")
    cmd = ["spm_train", "--input=" + ",".join(spm_inputs), "--model_prefix=" + prefix,
           "--model_type=bpe", "--vocab_size=%d" % a.vocab, "--character_coverage=0.9999",
           "--split_digits=true", "--byte_fallback=true", "--normalization_rule_name=identity",
           "--remove_extra_whitespaces=false", "--add_dummy_prefix=true",
           "--allow_whitespace_only_pieces=true", "--max_sentence_length=16384",
           "--input_sentence_size=2000000", "--shuffle_input_sentence=true", "--seed_sentencepiece_size=1000000",
           "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1", "--num_threads=%d" % os.cpu_count(),
           "--minloglevel=1"]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")

    def enc_docs(docs):
        ids = []
        for d in docs:
            ids.append(1)
            ids.extend(sp.encode(d))
            ids.append(2)
        return np.asarray(ids, dtype=np.uint16)

    stats = {"debs": debs, "train": {}, "val": {}, "heldout": {}}
    for src, docs in train.items():
        arr = enc_docs(docs)
        arr.tofile(os.path.join(work, "tokens", "train_%s.bin" % src))
        stats["train"][src] = {"docs": len(docs), "chars": sum(len(d) for d in docs), "tokens": int(arr.size)}
    arr = enc_docs([t for _, t in val])
    arr.tofile(os.path.join(work, "tokens", "val_sotu.bin"))
    stats["val"]["sotu"] = {"docs": len(val), "tokens": int(arr.size)}
    for name in HELDOUT:
        t = open(os.path.join(repo, "data", "heldout", name), encoding="utf-8").read()
        arr = enc_docs([t])
        arr.tofile(os.path.join(work, "tokens", "heldout_%s.bin" % name[:-4]))
        stats["heldout"][name] = {"chars": len(t), "tokens": int(arr.size)}
    # Passkey filler for training: nothing extra needed; the trainer draws filler from train tokens.
    with open(os.path.join(work, "stats.json"), "w") as fo:
        json.dump(stats, fo, indent=1)
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
