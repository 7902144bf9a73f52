#!/usr/bin/env bash
# session 19 call 3 (nvidia-h200): A/B of two latency items of the grid step (temporary switches):
# ADAMAS_STEP_CODES_AFTER_Q=1 (the first codes requested after q is staged, the order before s18) and
# ADAMAS_GRID_COOP=0 (no cooperative attribute); then LongChat-7B end to end with ADAMAS_PDL=1.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
timeout 150 /tmp/bin/adamas_cuda_tests --gtest_filter='GridBlocksTest*:GridStepAutoTest*' > $O/tests_default.log 2>&1; tail -1 $O/tests_default.log
ADAMAS_STEP_CODES_AFTER_Q=1 ADAMAS_GRID_COOP=0 timeout 150 /tmp/bin/adamas_cuda_tests --gtest_filter='GridBlocksTest*' > $O/tests_ab.log 2>&1; tail -1 $O/tests_ab.log
el tests
for rep in 1 2; do
for kv in 32 8; do for c in 32768 131072; do
  echo "rep$rep kv$kv $c default $(step $kv $c) after_q $(ADAMAS_STEP_CODES_AFTER_Q=1 step $kv $c) nocoop $(ADAMAS_GRID_COOP=0 step $kv $c) both $(ADAMAS_STEP_CODES_AFTER_Q=1 ADAMAS_GRID_COOP=0 step $kv $c)"
done; done; done 2>&1 | tee $O/ab.txt
el ab
e2e() {  # tag, env...
  local tag=$1; shift
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"
}
e2e default X=1 | tee -a $O/e2e.txt
e2e pdl ADAMAS_PDL=1 | tee -a $O/e2e.txt
e2e after_q ADAMAS_STEP_CODES_AFTER_Q=1 | tee -a $O/e2e.txt
e2e nocoop ADAMAS_GRID_COOP=0 | tee -a $O/e2e.txt
e2e default2 X=1 | tee -a $O/e2e.txt
el e2e
tar czf $OUT/c3.tgz -C $O .
