#!/usr/bin/env bash
# session 17 call 3 (nvidia-h200): the merge with its first group of outputs requested with the lse,
# one fence a block before the ticket; A/B against the one-thread-per-output merge
# (ADAMAS_DENSE_MERGE=old); dense split counts over contexts; trace; attention tests
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
att() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r["attend_us"])'; }
timeout 150 $T --gtest_brief=1 --gtest_filter='*Dense*:*Attention*:*Split*' > $O/tests_attention.log 2>&1; echo "attention tests rc $?"; tail -2 $O/tests_attention.log
el tests
for round in 1 2; do for kv in 8 32; do for c in 1024 8192 32768 131072; do
  for m in old new; do echo "$m round $round kv $kv context $c $(ADAMAS_DENSE_MERGE=$m $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 | att)"; done
done; done; done | tee $O/ab.txt
el ab
for kv in 8 32; do for c in 8192 16384 32768 65536 131072; do for sp in 4 8 12 16 24 33; do
  [ $kv = 32 ] && [ $sp -gt 16 ] && continue
  echo "splits $sp kv $kv context $c $(ADAMAS_DENSE_SPLITS=$sp $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 | att)"
done; done; done | tee $O/splits.txt
for sp in 4 8 16 33; do echo "splits $sp batch 8 kv 8 32K $(ADAMAS_DENSE_SPLITS=$sp $B --iters 50 --batch 8 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies full --estimators l1 | att)"; done | tee -a $O/splits.txt
el splits
for kv in 8 32; do for c in 8192 32768; do
  echo "== new kv $kv context $c"; ADAMAS_DENSE_TRACE=1 $B --iters 2 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 2>&1 >/dev/null | grep -A5 "attention trace" | head -6
done; done | tee $O/trace.txt
el trace
tar czf $OUT/c3.tgz -C $O .
