#!/usr/bin/env bash
# session 19 call 6 (nvidia-h200), the library as committed (df1b18e): racecheck of the steps with the
# current token's K/V from their arguments, the table of record, end to end, then the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
export CUDA_VISIBLE_DEVICES=0
timeout 200 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Steps/StepCurrentTokenTest.*' > $O/racecheck_current.log 2>&1; echo "racecheck rc $?"; grep -E "^\[  PASSED|^\[  FAILED|RACECHECK SUMMARY" $O/racecheck_current.log | head -4
el racecheck
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for shape in longchat-7b llama3-8b; do
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
done | tee $O/e2e.txt
el e2e
for cfg in "ADAMAS_GRID_BLOCKS=4" "ADAMAS_GRID_BLOCKS=6" "X=auto" "ADAMAS_GRID_BLOCKS=12" "ADAMAS_GRID_BLOCKS=16" "ADAMAS_STEP=cluster"; do
  env $cfg timeout 60 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b 2>/dev/null | python3 -c "
import json,sys; d=json.load(sys.stdin)
for r in d['rows']: print('$cfg', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])
"
done | tee $O/e2e_blocks.txt
el blocks
PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c6.tgz -C $O .
