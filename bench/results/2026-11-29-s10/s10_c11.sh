#!/usr/bin/env bash
# session 10 call 11: CudaRuntimeCodeOptionsTest with the near-tie rules made layer-ordered and
# straddle-aware, at the two failing seeds of calls 7 and 9 and at six fresh ones, one after another
# (a first try ran the eight at once with default OpenMP threads and none finished in 40 s)
set -u
tar xJf .cuda-run/t11.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 OMP_NUM_THREADS=8
T=/tmp/bin/adamas_cuda_tests
for s in 46801 35169 11 12 13 14 15 16; do
  ADAMAS_TEST_SEED=$s timeout 25 $T --gtest_brief=1 --gtest_filter='CudaRuntimeCodeOptionsTest.MatchesCpuRuntime' > /tmp/s_$s.log 2>&1
  echo "seed $s rc $?: $(grep -h 'PASSED  \]\|FAILED  \]' /tmp/s_$s.log | head -1)"
  grep -h -m2 "cpu level\|Failure" /tmp/s_$s.log | head -2
done
