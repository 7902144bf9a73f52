#!/usr/bin/env bash
# session 21 call 8 (nvidia-h200), diagnostics only (the binary of call 7): does the attention phase of
# the grid step's rank 7 end to end scale with the budget (positions a block attends)? Eager traces
# end to end at budgets 64 / 256 / 1024, and the isolated step's trace at 256 / 1024 for comparison.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
for b in 64 256 1024; do
  ADAMAS_STEP_TRACE=1 timeout 60 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets $b --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_e2e_b$b.txt 2>&1
  echo "e2e budget $b: $(grep 'attention of rank' $O/trace_e2e_b$b.txt | tail -8 | sed 's/  attention of rank //; s/ blocks, median/:/; s/ us, max.*//' | tr '\n' ' ')"
done
for b in 256 1024; do
  ADAMAS_STEP_TRACE=1 timeout 60 /tmp/bin/adamas_cuda_bench --iters 3 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets $b --policies adamas --estimators l1 > $O/trace_iso_b$b.txt 2>&1
  echo "isolated budget $b: $(grep 'attention of rank' $O/trace_iso_b$b.txt | tail -8 | sed 's/  attention of rank //; s/ blocks, median/:/; s/ us, max.*//' | tr '\n' ' ')"
done
tar czf $OUT/c8.tgz -C $O .
