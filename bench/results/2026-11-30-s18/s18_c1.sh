#!/usr/bin/env bash
# session 18 call 1 (nvidia-h200): the grid step's blocks per row (ADAMAS_GRID_BLOCKS) against the
# cluster step, MHA 32/32 and GQA 32/8 at 8K-128K; phase traces of the grid step (new); probe 1
# (scan only); LongChat-7B end to end at 32K with the grid step; the new GPU tests
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
/tmp/bin/adamas_cuda_tests --gtest_filter='GridBlocks*:StepTrace*:KernelVariants*:DecodePlanTest.*' > $O/tests.log 2>&1; echo "tests rc=$?"; tail -3 $O/tests.log
el tests
for round in 1 2; do
for c in 8192 32768 65536 131072; do
  echo "r$round mha $c auto $(step 32 $c) cluster $(ADAMAS_STEP=cluster step 32 $c)"
  for g in 4 6 8 10 12 16; do echo "r$round mha $c grid$g $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=$g step 32 $c)"; done
done
for c in 8192 32768 131072; do
  echo "r$round gqa $c auto $(step 8 $c) cluster $(ADAMAS_STEP=cluster step 8 $c)"
  for g in 8 12 16 24 32; do echo "r$round gqa $c grid$g $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=$g step 8 $c)"; done
done
done 2>&1 | tee $O/sweep.txt
el sweep
for c in 32768 131072; do for g in 8 16; do
  echo "== grid $g context $c"
  ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=$g ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null | grep -v "^adamas grid step:"
  echo "probe1 $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=$g ADAMAS_STEP_PROBE=1 step 32 $c)"
done; done 2>&1 | tee $O/trace.txt
echo "== cluster 32768"; ADAMAS_STEP=cluster ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null | tee -a $O/trace.txt
el trace
for v in "cluster auto" "grid 8" "grid 16"; do set -- $v
  ADAMAS_STEP=$1 ADAMAS_GRID_BLOCKS=$2 timeout 200 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_$1$2.json 2> $O/e2e_$1$2.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$1$2.json'))
for r in d['rows']: print('e2e $1 $2', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attention %.3f ms' % r['attention_ms'])
"
done 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c1.tgz -C $O .
