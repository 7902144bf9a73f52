#!/usr/bin/env bash
# Session 30, call 6. fin = main at 787a0ae (executables and library); cut8 = fin's library with the
# one-head grid kernels' row_cut unrolled for 8 blocks where a row has at most 8 (32 otherwise), the
# proper form of call 5's rc8 (commit 8e36523). The GPU suite, memcheck and racecheck on cut8; the isolated step
# alternating; the table of record; LongChat-7B end to end.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
cp -n /tmp/fin/* /tmp/cut8/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c6.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
iso() { local v=$1 kv=$2 c=$3
  run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in fin cut8; do for s in "32 8192" "32 32768" "32 131072" "8 32768"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
run_as cut8 env ADAMAS_COMMIT=8e36523 ITERS=50 bash bench/run_gpu_bench.sh /tmp/cut8 $O/table > $O/table.log 2>&1; tail -2 $O/table.log
el table
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_cut8_$c.csv run_as cut8 timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_cut8_$c.txt 2>&1
done
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/cut8 $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED  \]" $O/checks/tests_*.log | head -5
el suite
MEM='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/GridStepTest.*f16_d128_q32_kv32*:Shapes/GridStepSharedTest.*f16_d128_q4_kv4*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i run_as cut8 timeout 90 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
RACE='Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as cut8 timeout 90 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done; wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitizers
e2e() { local v=$1 c=$2 tag=$3
  run_as $v timeout 60 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_$tag.json 2>$O/e2e_${v}_${c}_$tag.err || tail -2 $O/e2e_${v}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for rep in a b; do for v in fin cut8; do [ $(( $(date +%s) - t0 )) -lt 520 ] && e2e $v 32768 $rep && e2e $v 131072 $rep; done; done 2>&1 | tee $O/e2e.txt
el e2e
