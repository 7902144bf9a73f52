#!/usr/bin/env bash
# session 14 call 9: racecheck over the two tests call 8 left unfinished (asymmetric d128 n9000, the
# cluster step at d 256), one process each, final library
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
i=0
for f in 'Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv2_b5_n9000' 'Shapes/ClusterStepTest.MatchesReference/bf16_d256_q8_kv2_b4_n1500'; do
  OMP_NUM_THREADS=4 timeout 320 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter="$f" > $O/racecheck_rest_$i.log 2>&1 &
  i=$((i+1))
done
wait
for l in $O/racecheck_rest_*.log; do echo "== $l"; grep -E "PASSED|FAILED|RACECHECK SUMMARY|ERROR SUMMARY" $l; done
cp $O/racecheck_rest_*.log $OUT/
