#!/usr/bin/env bash
# session 18 call 3 (nvidia-h200): the page-table prefetch (ADAMAS_STEP_PREFETCH=1|0, same binary) on
# the new auto paths; the merge with every load hoisted (against call 2); traces; the auto rule's paths
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
/tmp/bin/adamas_cuda_tests --gtest_filter='*GridStepAuto*:*StepTrace*:KernelVariants*' > $O/tests.log 2>&1; echo "tests rc=$?"; tail -1 $O/tests.log; grep "^\[  FAILED" $O/tests.log | head
el tests
for round in 1 2 3; do
for kv in 32 8; do for c in 8192 32768 131072; do
  echo "r$round kv$kv $c pf1 $(step $kv $c) pf0 $(ADAMAS_STEP_PREFETCH=0 step $kv $c) cluster-pf1 $(ADAMAS_STEP=cluster step $kv $c) cluster-pf0 $(ADAMAS_STEP=cluster ADAMAS_STEP_PREFETCH=0 step $kv $c)"
done; done
done 2>&1 | tee $O/sweep.txt
el sweep
for kv in 32 8; do for c in 32768 131072; do
  echo "== kv $kv context $c"
  ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null
  echo "probe1 $(ADAMAS_STEP_PROBE=1 step $kv $c)"
done; done 2>&1 | tee $O/trace.txt
el trace
ADAMAS_STEP_PREFETCH=0 timeout 200 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_pf0.json 2> $O/e2e_pf0.err
timeout 200 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_pf1.json 2> $O/e2e_pf1.err
for v in pf0 pf1; do python3 -c "
import json; d=json.load(open('$O/e2e_$v.json'))
for r in d['rows']: print('e2e $v', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], 'attention %.3f ms' % r['attention_ms'])
"; done 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c3.tgz -C $O .
