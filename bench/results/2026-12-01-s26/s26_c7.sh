#!/usr/bin/env bash
# Session 26, call 7: the code to commit (ADAMAS_STEP_SETUP, auto). The GPU suite, memcheck over the
# set-up's tests, LongChat-7B end to end, and the table of record.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
PARTS=tests LIMIT=240 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
el checks
for i in 0 1 2 3; do
  OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i timeout 100 compute-sanitizer --tool memcheck --error-exitcode 1 \
    /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='Shapes/StepSetupTest.*f16_d128_q8_kv2*:Shapes/StepSetupProgrammaticTest.*bf16_d128_q16_kv2*' > $O/memcheck_$i.log 2>&1 &
done; wait
grep -h "PASSED\|FAILED\|ERROR SUMMARY" $O/memcheck_*.log | sort | uniq -c
el memcheck
for rep in a b; do
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_lc_$rep.json 2>$O/e2e_lc_$rep.err || tail -2 $O/e2e_lc_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_lc_$rep.json'))
for r in d['rows']: print('lc_$rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done 2>&1 | tee $O/e2e.txt
el e2e
ITERS=50 timeout 200 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; tail -3 $O/table.log
el table
tar czf $OUT/c7.tgz -C $O .
