#!/usr/bin/env bash
# Session 32, call 4: the library of 20f87e2 (new: attend_rows batches of 4 positions a warp with
# more than one head a row) against 8c934c9 (fin): the whole GPU suite and compute-sanitizer over the
# GQA grid step, the isolated step alternating, the table of record, Llama-3-8B end to end.
set -u
source bench/device_ab_lib.sh
ab_setup c4
mkdir -p /tmp/new_all; cp /tmp/fin/* /tmp/new_all/; cp /tmp/new/libadamas.so /tmp/new_all/
PARTS=tests LIMIT=250 bash bench/run_gpu_checks.sh /tmp/new_all $O/checks 16 > $O/checks.log 2>&1 &
MEM='Shapes/GridStepTest.*/f16_d128_q8_kv2*:Shapes/GridStepTest.*/bf16_d128_q16_kv2*:Shapes/GridStepTest.*/f16_d128_q8_kv4_b5*:Shapes/GridStepTest.*/f16_d64_q8_kv2*'
for i in 0 1; do GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as new timeout 250 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done
run_as new timeout 250 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='Shapes/GridStepTest.*/f16_d128_q8_kv2*:Shapes/GridStepTest.*/bf16_d64_q16_kv2*' > $O/racecheck_0.log 2>&1 &
wait
tail -1 $O/checks.log; grep -h "FAILED  \]" $O/checks/tests_*.log | sort -u | head -5
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el checks
tar czf $OUT/c4_partial.tgz -C $O .
iso() { if [ "$1" = cl ]; then ADAMAS_STEP=cluster ab_iso $2 $3 $4 | sed "s/iso $2/iso cluster-$2/"; else ab_iso "$@"; fi; }
for rep in 1 2; do for v in fin new; do for s in "8 32768" "8 131072" "32 32768"; do iso $v $s; done; iso cl $v 8 32768; done; done 2>&1 | tee $O/iso.txt
el iso
run_as new_all env ADAMAS_COMMIT=20f87e2 ITERS=50 bash bench/run_gpu_bench.sh /tmp/new_all $O/table > $O/table.log 2>&1; tail -2 $O/table.log
grep "| 1 | 32/32 \|| 1 | 32/8 \|| 8 | 32/" $O/table/gpu_bench_*.md | head -20
el table
tar czf $OUT/c4_partial.tgz -C $O .
e2e() { local v=$1 c=$2 shape=$3
  run_as $v timeout 80 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape $shape > $O/e2e_${v}_${shape}_$c.json 2>$O/e2e_${v}_${shape}_$c.err || tail -2 $O/e2e_${v}_${shape}_$c.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_$c.json'))
for r in d['rows']: print('e2e $v $shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for c in 32768 131072; do for v in fin new; do [ $(( $(date +%s) - AB_T0 )) -lt 500 ] && e2e $v $c llama3-8b; done; done 2>&1 | tee $O/e2e.txt
el e2e
