#!/usr/bin/env bash
# session 18 call 9 (nvidia-h200), after the final review's clean-up (one device-side stamp helper for
# the three traces, one capture check, the scan's double buffering named once): the trace and
# grid-step tests, the three traces printed, and the step's time at MHA 32K / 128K
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o9; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
/tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*StepTrace*:*GridBlocks*b8*:*GridStepAuto*:DecodePlanTest.*' > $O/tests.log 2>&1; echo "tests rc=$?"; tail -2 $O/tests.log
run() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context $1 --budgets 256 --policies $2 --estimators l1; }
ADAMAS_STEP=cluster ADAMAS_STEP_TRACE=1 run 32768 adamas 2>&1 >/dev/null | head -16 | tee $O/trace.txt
ADAMAS_STEP_TRACE=1 run 32768 adamas 2>&1 >/dev/null | head -15 | tee -a $O/trace.txt
ADAMAS_DENSE_TRACE=1 run 32768 full 2>&1 >/dev/null | head -5 | tee -a $O/trace.txt
for c in 32768 131072; do echo "mha $c $(run $c adamas | python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: print(json.loads(l)["total_us"])')"; done | tee $O/steps.txt
tar czf $OUT/c9.tgz -C $O .
