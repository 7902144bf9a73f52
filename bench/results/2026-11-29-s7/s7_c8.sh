#!/usr/bin/env bash
# session 7 call 8: CudaDecoderTest.SmolLayoutMatchesCpuRuntime/1 at seed 64587 (2.4e-4 in call 7): dense variant x CPU threads
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
F='Policies/CudaDecoderTest.SmolLayoutMatchesCpuRuntime/*'
for v in warp new; do for omp in 1 16; do
  echo "== dense $v omp $omp"
  OMP_NUM_THREADS=$omp ADAMAS_DENSE_VARIANT=$v ADAMAS_TEST_SEED=64587 timeout 60 $T --gtest_brief=1 --gtest_filter="$F" 2>&1 | grep -E "actual|PASSED|FAILED  \]" | head -4
done; done
for seed in 1 2 3; do echo "== seed $seed omp 1"; OMP_NUM_THREADS=1 ADAMAS_TEST_SEED=$seed timeout 60 $T --gtest_brief=1 --gtest_filter="$F" 2>&1 | grep -E "actual|PASSED|FAILED  \]" | head -3; done
