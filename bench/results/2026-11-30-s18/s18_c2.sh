#!/usr/bin/env bash
# session 18 call 2 (nvidia-h200): the grid step's kernel of 2 blocks per SM with two rounds of codes
# in flight (new, ADAMAS_GRID_PER_SM=2) against the 4-per-SM kernel and the cluster step; batched
# merge of the partials; the first codes requested before q is staged. Tests of the steps first.
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
/tmp/bin/adamas_cuda_tests --gtest_filter='*GridStep*:*GridBlocks*:*StepTrace*:*ClusterStep*:*ClusterSize*:KernelVariants*:DecodePlanTest.*' > $O/tests.log 2>&1; echo "tests rc=$?"; tail -3 $O/tests.log; grep "^\[  FAILED" $O/tests.log | head
el tests
for round in 1 2; do
for c in 8192 32768 65536 131072; do
  echo "r$round mha $c auto $(step 32 $c) cluster $(ADAMAS_STEP=cluster step 32 $c) g8new $(ADAMAS_STEP=grid ADAMAS_GRID_PER_SM=2 step 32 $c) g8old $(ADAMAS_STEP=grid ADAMAS_GRID_PER_SM=4 ADAMAS_GRID_BLOCKS=8 step 32 $c) g16old $(ADAMAS_STEP=grid ADAMAS_GRID_PER_SM=4 step 32 $c)"
done
for c in 8192 32768 131072; do
  echo "r$round gqa $c auto $(step 8 $c) cluster $(ADAMAS_STEP=cluster step 8 $c) g8 $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=8 step 8 $c) g12 $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=12 step 8 $c) g16 $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=16 step 8 $c) g32 $(ADAMAS_STEP=grid step 8 $c)"
done
done 2>&1 | tee $O/sweep.txt
el sweep
for c in 32768 131072; do
  echo "== grid new context $c"
  ADAMAS_STEP=grid ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null
  echo "probe1 $(ADAMAS_STEP=grid ADAMAS_STEP_PROBE=1 step 32 $c)"
  echo "== grid gqa 16 context $c"
  ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=16 ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 8 --context $c --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null
done 2>&1 | tee $O/trace.txt
el trace
for v in "auto auto" "grid auto"; do set -- $v
  ADAMAS_STEP=$1 timeout 200 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_$1.json 2> $O/e2e_$1.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$1.json'))
for r in d['rows']: print('e2e $1', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attention %.3f ms' % r['attention_ms'])
"
done 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c2.tgz -C $O .
