#!/usr/bin/env bash
# session 17 call 2 (nvidia-h200): the dense merge by warps (merge_splits) against the one-thread-per-
# output merge (ADAMAS_DENSE_MERGE=old), same binaries, interleaved; the dense kernels' block trace
# (ADAMAS_DENSE_TRACE); the attention tests
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
timeout 120 $T --gtest_brief=1 --gtest_filter='*Dense*:*Attention*:*Split*' > $O/tests_attention.log 2>&1; echo "attention tests rc $?"; tail -3 $O/tests_attention.log
el tests
for round in 1 2; do for kv in 8 32; do for c in 1024 8192 32768 131072; do
  for m in old new; do echo "$m round $round kv $kv context $c $(ADAMAS_DENSE_MERGE=$m $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 | att)"; done
done; done; done | tee $O/ab.txt
for m in old new; do echo "$m batch 8 kv 8 32K $(ADAMAS_DENSE_MERGE=$m $B --iters 50 --batch 8 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies full --estimators l1 | att)"; done | tee -a $O/ab.txt
el ab
for sp in 16 33 48 66 99 132; do for kv in 8 32; do for c in 8192 32768 131072; do
  echo "splits $sp kv $kv context $c $(ADAMAS_DENSE_SPLITS=$sp $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 | att)"
done; done; done | tee $O/splits.txt
el splits
for m in old new; do for kv in 8 32; do for c in 8192 32768 131072; do
  echo "== $m kv $kv context $c"; ADAMAS_DENSE_MERGE=$m ADAMAS_DENSE_TRACE=1 $B --iters 2 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 2>&1 >/dev/null | grep -A5 "attention trace" | head -6
done; done; done | tee $O/trace.txt
for st in cluster auto; do echo "== step $st 128K"; ADAMAS_STEP=$st ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP_TRACE=1 $B --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --budgets 256 --policies adamas --estimators l1 2>&1 | grep -v '^{' | head -20; done | tee $O/step_trace_128k.txt
el trace
for m in old new; do ADAMAS_DENSE_MERGE=$m timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_$m.json 2>$O/e2e_$m.err
python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$m.json'))
for r in d['rows']: print('$m', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"; done | tee $O/e2e.txt
el e2e
tar czf $OUT/c2.tgz -C $O .
