#!/usr/bin/env bash
# session 13 call 8 (final library): the GPU suite; LongChat-7B end to end at 32K / 128K (auto now
# takes the grid step at 128K); the issue-3 table (run_gpu_bench.sh: every shape next to SDPA);
# memcheck of the grid step's tests; racecheck of one grid shape
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 64,256,1024 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat.json 2>$O/e2e_longchat.err; echo "e2e rc $?"
python3 -c "
import json; d=json.load(open('/tmp/o/e2e_longchat.json'))
for r in d['rows']: print(r['context'], r['policy'], r['budget'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attn %.3f' % r['attention_ms'])
" 2>&1 | tail -8
el e2e
ITERS=50 timeout 240 bash bench/run_gpu_bench.sh /tmp/bin $O/bench > $O/bench.log 2>&1; echo "bench rc $?"
grep -E "^\| 1 \| 32/32|^\| 1 \| 32/8|^\| 8 " $O/bench/gpu_bench_*.md | head -30
el bench
OMP_NUM_THREADS=4 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 \
  --gtest_filter='Shapes/GridStepTest.*f16_d64_q2_kv1*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*:Shapes/GridStepTest.*bf16_d256*' > $O/memcheck_grid.log 2>&1
echo "memcheck rc $?: $(grep -h 'PASSED\|FAILED\|ERROR SUMMARY' $O/memcheck_grid.log | tr '\n' ' ')"
el memcheck
OMP_NUM_THREADS=4 timeout 100 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 \
  --gtest_filter='Shapes/GridStepTest.*f16_d64_q2_kv1*' > $O/racecheck_grid.log 2>&1
echo "racecheck rc $?: $(grep -h 'PASSED\|FAILED\|RACECHECK SUMMARY\|hazard' $O/racecheck_grid.log | head -3 | tr '\n' ' ')"
el racecheck
tar czf $OUT/c8.tgz -C $O .
