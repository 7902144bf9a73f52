#!/usr/bin/env bash
# session 19 call 5 (nvidia-h200): the sparse layers' append after the step (the step takes the
# current token's K/V from the q|k|v product): its tests, memcheck, then end to end.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
T=/tmp/bin/adamas_cuda_tests
timeout 240 $T --gtest_filter='*StepCurrentToken*:*CudaDecoderTest*:*CudaGraphDecodeTest*:*CudaGraphSkipTest*:*CudaDecoderThreads*:*GridStepAutoTest*:*StepTraceTest*' > $O/tests.log 2>&1; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $O/tests.log | head -20
el tests
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 $T --gtest_filter='Steps/StepCurrentTokenTest.*' > $O/memcheck.log 2>&1; echo "memcheck rc $?"; grep -E "ERROR SUMMARY|PASSED|FAILED" $O/memcheck.log | head -5
el memcheck
e2e() {  # tag shape contexts
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $3 --shape $2 > $O/e2e_$1.json 2>$O/e2e_$1.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$1.json'))
for r in d['rows']: print('$1', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
}
e2e lc longchat-7b 32768,131072 | tee -a $O/e2e.txt
e2e lc2 longchat-7b 32768 | tee -a $O/e2e.txt
e2e l3 llama3-8b 32768,131072 | tee -a $O/e2e.txt
el e2e
timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --graph-split > $O/split.txt 2>&1; cat $O/split.txt
el split
tar czf $OUT/c5.tgz -C $O .
