#!/usr/bin/env bash
# session 6 call 7: racecheck of the fused asymmetric test (unfinished at 85 s in call 6), GEMV tests after the tolerance fix
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
T=/tmp/bin/adamas_cuda_tests
timeout 230 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv2*' > /tmp/o/racecheck_asym.log 2>&1 &
for i in $(seq 0 11); do
  GTEST_TOTAL_SHARDS=12 GTEST_SHARD_INDEX=$i timeout 200 $T --gtest_brief=1 --gtest_filter='*Gemv*' > /tmp/o/gemv_$i.log 2>&1 &
done
wait
el done
grep -h "^\[  PASSED  \]\|FAILED  \]" /tmp/o/gemv_*.log | sort | uniq -c
grep -h -A8 "Failure" /tmp/o/gemv_*.log | head -20
tail -5 /tmp/o/racecheck_asym.log
tar czf $OUT/c7.tgz -C /tmp/o .
