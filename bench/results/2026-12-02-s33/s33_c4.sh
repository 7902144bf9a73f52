#!/usr/bin/env bash
# Session 33, call 4. fin = main (eea056d, the kernels of 5eeef26). (1) The whole GPU suite at
# eea056d, whose test helpers changed. (2) The MHA and GQA steps (budget 256) next to PyTorch SDPA in
# one run under each L2 flush, the memset of the tables of record ("write") and a read of the
# same size ("read", clean lines), to say how much of the targets' gap is the flush's write-back.
set -u
source bench/device_ab_lib.sh
ab_setup c4
run_as fin env PARTS=tests LIMIT=250 bash bench/run_gpu_checks.sh /tmp/fin $O/checks 16 > $O/checks.log 2>&1; tail -3 $O/checks.log
el checks
for flush in write read; do
  J=$O/flush_$flush.jsonl; : > $J
  run_as fin /tmp/fin/adamas_cuda_bench --copy-bandwidth >> $J
  for c in 8192 32768 131072; do for kv in 32 8; do
    ADAMAS_BENCH_FLUSH=$flush run_as fin /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv \
      --context $c --budgets 256 --policies adamas,full --estimators l1 >> $J 2>/dev/null
  done; done
  ADAMAS_BENCH_FLUSH=$flush ADAMAS_COMMIT=eea056d PYTHONUNBUFFERED=1 python3 bench/sdpa_baseline.py --adamas $J \
    --command "ADAMAS_BENCH_FLUSH=$flush adamas_cuda_bench --policies adamas,full (s33_c4.sh)" --out $O/flush_$flush.md > $O/sdpa_$flush.log 2>&1
  grep "| 1 | 32/" $O/flush_$flush.md | head -12
  el flush-$flush
done
