#!/usr/bin/env bash
# session 10 call 10: the three runtime-comparison failures of calls 7-9 (random seeds) repeated with
# their seeds on the ninth session's binaries (old, 25eb7b0) and this session's (new)
set -u
for f in .cuda-run/ab_*.tar.xz; do tar xJf $f -C /tmp; done
for v in $(ls /tmp/carry2 | grep -v so); do
  export LD_LIBRARY_PATH=/tmp/carry2/$v:/tmp/carry2:/usr/local/cuda/lib64
  for s in 46801 35169; do
    ADAMAS_TEST_SEED=$s timeout 100 /tmp/carry2/$v/adamas_cuda_tests --gtest_brief=1 --gtest_filter='CudaRuntimeCodeOptionsTest.MatchesCpuRuntime' > /tmp/${v}_${s}.log 2>&1
    echo "$v code_options seed $s rc $? $(grep -h 'PASSED\|FAILED  \]' /tmp/${v}_${s}.log | head -2 | tr '\n' ' ')"
    grep -h -m2 "cpu level\|trace" /tmp/${v}_${s}.log | head -3
  done
  ADAMAS_TEST_SEED=28595 timeout 60 /tmp/carry2/$v/adamas_cuda_tests --gtest_brief=1 --gtest_filter='Policies/CudaPrefillTest.MatchesTokenByTokenAndCpu/3' > /tmp/${v}_p.log 2>&1
  echo "$v prefill seed 28595 rc $? $(grep -h 'PASSED\|FAILED  \]\|actual' /tmp/${v}_p.log | head -3 | tr '\n' ' ')"
done
