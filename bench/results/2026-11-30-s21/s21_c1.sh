#!/usr/bin/env bash
# session 21 call 1 (nvidia-h200): the grid step asking L2 for the o projection's weights once its
# scan is done (ADAMAS_STEP_PREFETCH = off | barrier | attention): its tests, end to end A/B on both
# shapes (two rounds), the isolated step (the kernel's code changed; prefetch has no caller there).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=$OUT
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
timeout 150 stdbuf -oL /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*GridStepPrefetch*:*KernelVariantsTest*:Shapes/GridStepTest.*' > $O/tests.log 2>&1; echo "tests rc $?"; grep -E "^\[  (PASSED|FAILED)|FAILED  \]" $O/tests.log | head -20
el tests
e2e() {  # tag policies shape, env...
  local tag=$1 pol=$2 shape=$3; shift 3
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for shape in longchat-7b llama3-8b; do
  e2e ${shape}_off full,adamas $shape ADAMAS_STEP_PREFETCH=off
  for rep in a b; do
    e2e ${shape}_barrier_$rep adamas $shape ADAMAS_STEP_PREFETCH=barrier
    e2e ${shape}_attention_$rep adamas $shape ADAMAS_STEP_PREFETCH=attention
    e2e ${shape}_off_$rep adamas $shape ADAMAS_STEP_PREFETCH=off
  done
done 2>&1 | tee $O/e2e.txt
el e2e
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do echo "kv$kv $c $(step $kv $c) $(step $kv $c)"; done; done | tee $O/steps.txt
el steps
