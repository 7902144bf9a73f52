#!/usr/bin/env bash
# Session 26, call 9: the committed kernels (host-side change only: ADAMAS_STEP_TRACE_FILE writes the
# grid step trace's every block stamps as CSV). Per-block stamps of the isolated step (MHA 32K /
# 128K, GQA 32K) and of LongChat-7B end to end (eager trace launch, 32K / 128K), for the scan's tail.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_iso_kv${kv}_$c.csv timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_iso_kv${kv}_$c.txt 2>&1
  echo "== iso kv $kv $c"; sed -n '/grid step trace/,+12p' $O/trace_iso_kv${kv}_$c.txt | head -13
done; done
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_e2e_$c.csv timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/trace_e2e_$c.txt 2>&1
  echo "== e2e $c"; sed -n '/grid step trace/,+12p' $O/trace_e2e_$c.txt | head -13
done
ls -la $O
tar czf $OUT/c9.tgz -C $O .
