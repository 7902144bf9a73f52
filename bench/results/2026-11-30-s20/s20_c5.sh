#!/usr/bin/env bash
# session 20 call 5 (nvidia-h200): the grid step's attention sharing as a compile-time variant
# (ADAMAS_GRID_SHARE=1 default, 0 = the kernel as before), so one binary A/Bs code and behaviour:
# tests of the changed pieces, the isolated step (share 1 / 0, two rounds), end to end (both shapes;
# also with ADAMAS_STEP_PDL=1).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=16
B=/tmp/bin/adamas_cuda_bench
timeout 200 stdbuf -oL /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*StepSkewedSelection*:GridStepTest*:*StepCurrentToken*:*StepTrace*:*KernelVariantsTest*' > $O/tests.log 2>&1; echo "rc $?"; grep -E "^\[  (PASSED|FAILED)|FAILED  \]" $O/tests.log | head -20
el tests
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for rep in 1 2; do for kv in 32 8; do for c in 32768 131072; do
  echo "rep$rep kv$kv $c share1 $(step $kv $c) share0 $(ADAMAS_GRID_SHARE=0 step $kv $c)"
done; done; done | tee $O/steps.txt
el steps
e2e() {  # tag policies shape, env...
  local tag=$1 pol=$2 shape=$3; shift 3
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
"
}
for shape in longchat-7b llama3-8b; do
  e2e ${shape}_share1 full,adamas $shape X=1
  e2e ${shape}_share0 adamas $shape ADAMAS_GRID_SHARE=0
  e2e ${shape}_share1b adamas $shape X=1
  e2e ${shape}_share0b adamas $shape ADAMAS_GRID_SHARE=0
  e2e ${shape}_share1_steppdl adamas $shape ADAMAS_STEP_PDL=1
done 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c5.tgz -C $O .
