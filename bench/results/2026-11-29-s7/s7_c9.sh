#!/usr/bin/env bash
# session 7 call 9: decoder and code-option runtime tests observed on both sides (compare logits while selections agree)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 OMP_NUM_THREADS=1
T=/tmp/bin/adamas_cuda_tests
for seed in 2 64587 34184 38546 3 5; do
  (ADAMAS_TEST_SEED=$seed timeout 100 $T --gtest_brief=1 --gtest_filter='*CudaDecoderTest*:CudaRuntimeCodeOptionsTest.*' > /tmp/s_$seed.log 2>&1; echo "seed $seed rc $?") &
done
for i in 0 1 2 3 4 5 6 7; do GTEST_TOTAL_SHARDS=8 GTEST_SHARD_INDEX=$i timeout 100 $T --gtest_brief=1 --gtest_filter='*CudaDecoder*:*CodeOptions*:*Asymmetric*Runtime*' > /tmp/t_$i.log 2>&1 & done
wait
grep -h "PASSED  \]\|FAILED  \]" /tmp/s_*.log /tmp/t_*.log | sort | uniq -c
grep -h -A6 "Failure" /tmp/s_*.log /tmp/t_*.log | head -30
