#!/usr/bin/env bash
# session 16 call 11 (nvidia-h200): CudaPrefillTest against the CPU at 2e-4: seed 28595 and fresh seeds
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 OMP_NUM_THREADS=2
T=/tmp/bin/adamas_cuda_tests
ADAMAS_TEST_SEED=28595 timeout 60 $T --gtest_filter='Policies/CudaPrefillTest.*' > $O/prefill_28595.log 2>&1; echo "seed 28595 rc $?"
for i in 0 1 2 3; do timeout 60 $T --gtest_brief=1 --gtest_filter='Policies/CudaPrefillTest.*' --gtest_repeat=5 > $O/prefill_repeat_$i.log 2>&1 & done
wait
echo "repeats: $(cat $O/prefill_repeat_*.log | grep -cE '^\[  PASSED  \]') of 20 runs passed"
grep -hE "actual|seed=" $O/*.log | head -8
tar czf $OUT/c11.tgz -C $O .
