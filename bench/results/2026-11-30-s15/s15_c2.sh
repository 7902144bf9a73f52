#!/usr/bin/env bash
# session 15 call 2 (nvidia-h200-x2): GPU 1 racecheck over the suite's racecheck set (the asymmetric
# shape now d128_q8_kv2_b2_n4100_page24); GPU 0: the failing calibrated-runtime test at its seed and
# 20 fresh seeds, LongChat-7B end to end with the step's dependents at start / cut / attend (graph
# split at start), the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
(CUDA_VISIBLE_DEVICES=1 PARTS=racecheck LIMIT=480 bash bench/run_gpu_checks.sh /tmp/bin $O/race 4 > $O/race.log 2>&1) &
RC=$!
export CUDA_VISIBLE_DEVICES=0
T=/tmp/bin/adamas_cuda_tests
ADAMAS_TEST_SEED=37362 timeout 60 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' > $O/asym_seed.log 2>&1; echo "seed 37362 rc $?"; grep -E "Failure|actual|seed=" $O/asym_seed.log | head -6
timeout 150 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' --gtest_repeat=20 > $O/asym_repeat.log 2>&1; echo "repeat rc $?"; grep -cE "^\[  PASSED  \] 1 test" $O/asym_repeat.log; grep -E "actual|seed=" $O/asym_repeat.log | head -10
el asym
for dep in start cut attend; do
  split=""; [ $dep = start ] && split="--graph-split"
  ADAMAS_STEP_DEPENDENTS=$dep timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b $split > $O/e2e_$dep.json 2>$O/e2e_$dep.err; echo "e2e $dep rc $?"
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$dep.json'))
for r in d['rows']: print('$dep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], {k: round(r['ms_per_step']-v,3) for k,v in r['graph_ms_without'].items()})
"
done
ADAMAS_STEP_DEPENDENTS=start timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_start2.json 2>/dev/null
ADAMAS_STEP_DEPENDENTS=cut timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_cut2.json 2>/dev/null
python3 -c "
import json
for f in ['start2','cut2']:
  d=json.load(open('/tmp/o/e2e_%s.json' % f))
  for r in d['rows']: print(f, r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"
el e2e
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -3 $O/checks.log
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
wait $RC; tail -4 $O/race.log; grep -h -E "RACECHECK SUMMARY|PASSED|FAILED" $O/race/racecheck_*.log 2>/dev/null | sort | uniq -c
el racecheck
tar czf $OUT/c2.tgz -C $O .
