#!/usr/bin/env bash
# Session 26, call 3: where the grid step's set-up goes. d1 = libadamas.so with three more trace
# points between "row known" and "scan starts" ("pages in": thread 0's first page id arrived;
# "codes asked": the first round of codes requested; "q staged": the set-up's first barrier).
# Isolated MHA and GQA at 32K / 128K with the write flush (the record's) and the read flush, and
# LongChat-7B end to end (eager trace launch).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
tar xJf .cuda-run/d1.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
export LD_LIBRARY_PATH=/tmp/d1:/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
for flush in write read; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_BENCH_FLUSH=$flush ADAMAS_STEP_TRACE=1 timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${flush}_kv${kv}_$c.txt 2>&1
  echo "== flush $flush kv $kv context $c"; sed -n '/grid step trace/,+15p' $O/trace_${flush}_kv${kv}_$c.txt | head -16
done; done; done
ADAMAS_STEP_TRACE=1 timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_e2e.txt 2>&1
echo "== e2e"; sed -n '/grid step trace/,+15p' $O/trace_e2e.txt | head -16
tar czf $OUT/c3.tgz -C $O .
