#!/usr/bin/env bash
# Session 31, call 3. fin = main at feb346b (executables and library; the test binary has the new
# GridStepTest.ReusedPlanMatchesReference); nobar2 = fin's library without the grid step's row
# barrier (histograms polled until written, reset by the row's last block with 16-byte stores);
# broken = nobar2 without the reset, to show the new test fails where the reset is missing.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c3.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
iso() { local v=$1 kv=$2 c=$3
  run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c total %.2f us' % d['total_us'])"; }
tests() { local v=$1 F=$2 tag=$3
  for i in $(seq 0 15); do GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as $v timeout 90 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > $O/tests_${tag}_$i.log 2>&1 & done; wait
  echo "tests $tag: passed $(grep -h '^\[  PASSED  \]' $O/tests_${tag}_*.log | awk '{s+=$4} END {print s+0}'), failed $(grep -h '^\[  FAILED  \] .*\.' $O/tests_${tag}_*.log | wc -l), unfinished $(grep -L 'PASSED\|FAILED' $O/tests_${tag}_*.log | wc -l)"; }
tests broken '*GridStepTest.Reused*' broken_reused
tests fin '*GridStepTest.Reused*' fin_reused
tests nobar2 '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' nobar2_steps
el tests
for rep in 1 2 3 4; do for v in fin nobar2; do for s in "32 8192" "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in fin nobar2; do for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_${v}_$c.csv run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_$c.txt 2>&1
done; done
grep -h "scan ends\|threshold\|partials in\|merged" $O/trace_*_32768.txt
el traces
MEM='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/GridStepTest.*f16_d128_q32_kv32*:Shapes/GridStepSharedTest.*f16_d128_q4_kv4*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i run_as nobar2 timeout 100 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
RACE='Shapes/GridStepTest.*/f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as nobar2 timeout 100 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done; wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitizers
