#!/usr/bin/env bash
# Session 30, call 2. fin = main at 704d4f3 (the release/acquire row barrier, listed flag and ticket),
# old = bf5536d's library. The table of record next to PyTorch SDPA; the step's stamps at MHA 32K /
# 128K; the GPU suite; memcheck and racecheck over the step tests; LongChat-7B end to end, old and fin
# alternating.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
cp -n /tmp/fin/* /tmp/old/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c2.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
run_as fin env ITERS=50 bash bench/run_gpu_bench.sh /tmp/fin $O/table > $O/table.log 2>&1; tail -3 $O/table.log
el table
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_kv32_$c.csv run_as fin timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_kv32_$c.txt 2>&1
  python3 bench/stamps_summary.py $O/stamps_kv32_$c.csv > $O/summary_kv32_$c.txt 2>&1
done
el stamps
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/fin $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
MEM='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/GridStepSharedTest.*f16_d128_q4_kv4*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i run_as fin timeout 75 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
RACE='Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as fin timeout 75 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done; wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitizers
e2e() { local v=$1 c=$2 tag=$3
  run_as $v timeout 60 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_$tag.json 2>$O/e2e_${v}_${c}_$tag.err || tail -2 $O/e2e_${v}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for rep in a b; do for v in old fin; do [ $(( $(date +%s) - t0 )) -lt 520 ] && e2e $v 32768 $rep && e2e $v 131072 $rep; done; done 2>&1 | tee $O/e2e.txt
el e2e
