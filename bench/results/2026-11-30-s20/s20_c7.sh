#!/usr/bin/env bash
# session 20 call 7 (nvidia-h200), the library as committed (attention sharing built, off by default):
# memcheck and racecheck of the sharing grid step, its tests, the table of record, end to end, then
# the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=$OUT
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=16
for tool in memcheck racecheck; do
  timeout 100 compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Steps/StepSkewedSelectionTest.*/grid' > $O/${tool}_skewed.log 2>&1; echo "$tool rc $?"; grep -E "^\[  PASSED|^\[  FAILED|ERROR SUMMARY|RACECHECK SUMMARY" $O/${tool}_skewed.log | head -4
done
el sanitizers
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for shape in longchat-7b llama3-8b; do
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
done | tee $O/e2e.txt
el e2e
PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
