#!/bin/bash
# GPU benchmark of one decode step: adamas_cuda_bench (every policy, per stage, CUDA graphs, L2
# flushed between replays) next to PyTorch SDPA (cuDNN and Flash backends) and, where the flashinfer
# package is installed, FlashInfer's dense decode (the paper's baseline; ADAMAS_BENCH_FLASHINFER=0
# skips it) on the same GPU, in one run; the copy bandwidth is measured in the same run. Writes JSON
# lines and a markdown table.
# usage: bench/run_gpu_bench.sh [BIN_DIR (holds adamas_cuda_bench)] [OUT_DIR]
set -u
BIN_DIR=${1:-build-cuda}
OUT_DIR=${2:-bench/results}
ITERS=${ITERS:-50}
mkdir -p "$OUT_DIR"
JSON="$OUT_DIR/adamas_cuda.jsonl"
: > "$JSON"
bench() { "$BIN_DIR/adamas_cuda_bench" --iters "$ITERS" "$@" >> "$JSON" || echo "adamas_cuda_bench $* failed" >&2; }
"$BIN_DIR/adamas_cuda_bench" --copy-bandwidth >> "$JSON"
for context in 8192 32768 131072; do
  bench --batch 1 --q-heads 32 --kv-heads 32 --context $context --budgets 64,256,1024
  bench --batch 1 --q-heads 32 --kv-heads 8 --context $context --budgets 64,256,1024
done
bench --batch 8 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256
bench --batch 8 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256
# The one-launch step's scan alone (ADAMAS_STEP_PROBE=1: its blocks end after the scan), marked.
for context in 8192 32768 131072; do for kv in 32 8; do
  ADAMAS_STEP_PROBE=1 "$BIN_DIR/adamas_cuda_bench" --iters "$ITERS" --batch 1 --q-heads 32 --kv-heads $kv \
    --context $context --budgets 256 --policies adamas --estimators l1 | sed 's/^{/{"step_probe": 1, /' >> "$JSON"
done; done
COMMAND="bench/run_gpu_bench.sh $*"
PYTHONUNBUFFERED=1 python3 "$(dirname "$0")/sdpa_baseline.py" --adamas "$JSON" --command "$COMMAND" \
  --out "$OUT_DIR/gpu_bench_$(date +%Y-%m-%d).md"
