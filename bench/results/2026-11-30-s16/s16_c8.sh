#!/usr/bin/env bash
# session 16 calls 8 and 9 (nvidia-h200; call 9 with seed 63378 and 60 fresh seeds): the calibrated-runtime test with compare_codes at divergence, at
# seeds 37362, 86032, 88503 and 40 fresh ones; the code-options runtime test (compare_codes moved)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 OMP_NUM_THREADS=4
T=/tmp/bin/adamas_cuda_tests
for s in 37362 86032 88503 63378; do ADAMAS_TEST_SEED=$s timeout 60 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' > $O/asym_$s.log 2>&1; echo "seed $s rc $?"; done
timeout 300 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' --gtest_repeat=60 > $O/asym_repeat.log 2>&1 &
timeout 300 $T --gtest_filter='CudaRuntimeCodeOptionsTest.*' --gtest_repeat=6 > $O/codes_repeat.log 2>&1 &
wait
echo "asym repeat passed $(grep -cE '^\[  PASSED  \] 1 test' $O/asym_repeat.log) of 60; codes repeat passed $(grep -cE '^\[  PASSED  \] 1 test' $O/codes_repeat.log) of 6"
grep -hE "actual|seed=|Failure" $O/*.log | head -12
tar czf $OUT/c8.tgz -C $O .
