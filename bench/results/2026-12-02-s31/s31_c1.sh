#!/usr/bin/env bash
# Session 31, call 1. fin = main at feb346b (executables and library); poll = fin's library with the
# grid step's row barrier and merge ticket replaced by polled words (step::kUnwritten). Step tests on
# poll, the isolated step alternating, stamps, the GPU suite and the sanitizers on poll.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O; mkdir -p /tmp/poll_all; cp /tmp/fin/* /tmp/poll_all/; cp /tmp/poll/libadamas.so /tmp/poll_all/
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c1.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
iso() { local v=$1 kv=$2 c=$3
  run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c total %.2f us' % d['total_us'])"; }
F='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*'
for v in poll; do
  for i in $(seq 0 15); do GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as $v timeout 75 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > $O/tests_${v}_$i.log 2>&1 & done; wait
  echo "tests $v: passed $(grep -h '^\[  PASSED  \]' $O/tests_${v}_*.log | awk '{s+=$4} END {print s+0}'), failed $(grep -h '^\[  FAILED  \] .*\.' $O/tests_${v}_*.log | wc -l), unfinished $(grep -L 'PASSED\|FAILED' $O/tests_${v}_*.log | wc -l)"
done
el tests
for rep in 1 2 3; do for v in fin poll; do for s in "32 8192" "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in fin poll; do for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_${v}_$c.csv run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_$c.txt 2>&1
done; done
grep -h "scan ends\|row met\|threshold\|lists\|attended\|partials in\|merged" $O/trace_*_32768.txt
el traces
[ $(( $(date +%s) - t0 )) -lt 300 ] && { PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/poll_all $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log; grep -h "FAILED  \]" $O/checks/tests_*.log | head -5; el suite; }
MEM='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/GridStepTest.*f16_d128_q32_kv32*:Shapes/GridStepSharedTest.*f16_d128_q4_kv4*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i run_as poll timeout 80 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
RACE='Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as poll timeout 80 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done; wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitizers
