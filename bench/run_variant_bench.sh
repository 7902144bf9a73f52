#!/bin/bash
# Old and new CUDA kernel versions side by side (src/cuda/kernel_variants.cuh): the adamas step per
# stage and our dense attention, for each variant set, on the issue-3 shapes (batch 1, 32 query
# heads, d = 128, fp16, budget 256; MHA and GQA 32/8; 32K and 128K). CUDA graphs, L2 flushed
# between replays (adamas_cuda_bench). Writes JSON lines and prints a table.
# usage: bench/run_variant_bench.sh [BIN_DIR (holds adamas_cuda_bench)] [OUT_DIR]
set -u
BIN_DIR=${1:-build-perf}
OUT_DIR=${2:-bench/results}
ITERS=${ITERS:-50}
mkdir -p "$OUT_DIR"
JSON="$OUT_DIR/variants.jsonl"
: > "$JSON"
"$BIN_DIR/adamas_cuda_bench" --copy-bandwidth >> "$JSON"
# estimate dense pdl
for variants in "old old 0" "new old 0" "old old 1" "new new 1"; do
  read -r estimate dense pdl <<< "$variants"
  for context in 32768 131072; do
    for kv in 32 8; do
      ADAMAS_ESTIMATE_VARIANT=$estimate ADAMAS_DENSE_VARIANT=$dense ADAMAS_PDL=$pdl \
        "$BIN_DIR/adamas_cuda_bench" --iters "$ITERS" --batch 1 --q-heads 32 --kv-heads $kv --context $context \
        --budgets 256 --policies adamas,full >> "$JSON" || echo "adamas_cuda_bench ($variants) kv $kv context $context failed" >&2
    done
  done
done
python3 - "$JSON" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
copy = next((r["copy_gb_per_s"] for r in rows if "copy_gb_per_s" in r), None)
print(f"copy bandwidth (read + write): {copy} GB/s")
print("| heads q/kv | context | estimate | dense | pdl | adamas est | sel | attend | adamas total | est GB/s (% copy) | dense attend | dense K/V GB/s (% copy) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
by_key = {}
for r in rows:
    if "policy" in r:
        by_key[(r["q_heads"], r["kv_heads"], r["context"], r["estimate_variant"], r["dense_variant"], r["pdl"], r["policy"])] = r
for (q, kv, n, e, d, p, policy), r in sorted(by_key.items(), key=lambda x: (x[0][1], x[0][2])):
    if policy != "adamas":
        continue
    full = by_key.get((q, kv, n, e, d, p, "full"))
    code_bytes = kv * (n - 1) * r["head_dim"] / 4
    est_gbs = code_bytes / (r["estimate_us"] * 1e-6) / 1e9 if r["estimate_us"] else 0
    kv_bytes = full["bytes"] if full else 0
    dense_gbs = kv_bytes / (full["attend_us"] * 1e-6) / 1e9 if full and full["attend_us"] else 0
    pct = lambda x: f"{100 * x / copy:.0f}%" if copy else "?"
    print(f"| {q}/{kv} | {n} | {e} | {d} | {p} | {r['estimate_us']:.1f} | {r['select_us']:.1f} | {r['attend_us']:.1f} | "
          f"{r['total_us']:.1f} | {est_gbs:.0f} ({pct(est_gbs)}) | {full['attend_us'] if full else 0:.1f} | {dense_gbs:.0f} ({pct(dense_gbs)}) |")
PY
