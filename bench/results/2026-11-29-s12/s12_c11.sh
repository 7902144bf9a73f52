#!/usr/bin/env bash
# session 12 call 11: SmolLayoutMatchesCpu with the near-tie guard, at the seed that failed in call 10 and two more
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
for s in 9404 1 2; do
  ADAMAS_TEST_SEED=$s OMP_NUM_THREADS=8 timeout 60 /tmp/bin/adamas_cuda_tests --gtest_filter='Policies/CudaPrefillTest.SmolLayoutMatchesCpu/*' 2>&1 | grep -E "step|Failure|Expected|PASSED|FAILED" | head -12 | sed "s/^/seed $s: /"
done | tee $OUT/prefill_guard_c11.log
