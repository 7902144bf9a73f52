#!/usr/bin/env bash
# Session 34, call 5. fin = main at 11aa2a0 (the cluster step's cut by one warp): memcheck and
# racecheck over the cluster step's tests, the table of record, Llama-3-8B end to end.
set -u
source bench/device_ab_lib.sh
ab_setup c5
MEM='Shapes/ClusterStepTest.*f16_d128_q4_kv4*:Shapes/ClusterStepTest.*f16_d128_q32_kv32*:Shapes/ClusterStepTest.*bf16_d64*:Steps/StepSkewedSelectionTest.*cluster*:Steps/StepCurrentTokenTest.*'
RACE='Shapes/ClusterStepTest.*/f16_d128_q4_kv4*:Shapes/ClusterStepTest.*/f16_d128_q32_kv32*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i run_as fin timeout 100 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as fin timeout 100 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done
wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitize
run_as fin env ADAMAS_COMMIT=11aa2a0 ITERS=50 timeout 300 bash bench/run_gpu_bench.sh /tmp/fin $O/table > $O/table.log 2>&1; tail -2 $O/table.log
grep "| 1 | 32/32 \|| 1 | 32/8 \|| 8 | 32/" $O/table/gpu_bench_*.md | head -24
el table
tar czf $OUT/c5_partial.tgz -C $O .
for c in 32768 131072; do [ $(( $(date +%s) - AB_T0 )) -lt 440 ] && ab_e2e fin $c llama3-8b; done 2>&1 | tee $O/e2e.txt
el e2e
