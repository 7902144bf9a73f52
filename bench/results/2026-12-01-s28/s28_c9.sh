#!/usr/bin/env bash
# Session 28, call 9: the GPU suite on cg (call 8's write round, as committed), memcheck and
# racecheck over the one-head step tests.
set -u
for t in fin cg; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
cp -n /tmp/fin/* /tmp/cg/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c9.tgz -C $O .; }
trap finish EXIT
PARTS=tests LIMIT=120 bash bench/run_gpu_checks.sh /tmp/cg $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
MEM='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/ClusterStepTest.*f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i LD_LIBRARY_PATH=/tmp/cg:/usr/local/cuda/lib64 timeout 60 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/cg/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
RACE='Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i LD_LIBRARY_PATH=/tmp/cg:/usr/local/cuda/lib64 timeout 60 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/cg/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done; wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitizers
