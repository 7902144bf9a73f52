#!/usr/bin/env bash
# session 16 call 10 (nvidia-h200): the final form of the calibrated-runtime test (2e-4), seeds
# 86014 and 63378 and 80 fresh ones
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 OMP_NUM_THREADS=2
T=/tmp/bin/adamas_cuda_tests
for s in 86014 63378; do ADAMAS_TEST_SEED=$s timeout 60 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' > $O/asym_$s.log 2>&1; echo "seed $s rc $?"; done
for i in 0 1 2 3; do timeout 120 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' --gtest_repeat=20 > $O/asym_repeat_$i.log 2>&1 & done
wait
echo "passed $(cat $O/asym_repeat_*.log | grep -cE '^\[  PASSED  \] 1 test') of 80"
grep -hE "actual|seed=" $O/*.log | head -8
tar czf $OUT/c10.tgz -C $O .
