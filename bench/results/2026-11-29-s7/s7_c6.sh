#!/usr/bin/env bash
# session 7 call 6 (final kernels: dense warp split default, asymmetric auto, GEMV split + PDL): the issue-3 benchmark
# next to SDPA; the whole GPU suite; memcheck of GEMV and dense; the runtime test at seeds 38546 and 3
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
ITERS=30 timeout 150 bash bench/run_gpu_bench.sh /tmp/bin /tmp/o > /tmp/o/bench.log 2>&1; echo "bench rc $?"
grep -A30 "^| batch" /tmp/o/gpu_bench_*.md | head -40
el bench
PARTS=tests LIMIT=265 bash bench/run_gpu_checks.sh /tmp/bin /tmp/o/checks 16
el suite
grep -h "^\[  FAILED  \]" /tmp/o/checks/tests_*.log | sort -u | head
grep -h -A8 "Failure" /tmp/o/checks/tests_*.log | head -30
T=/tmp/bin/adamas_cuda_tests
for seed in 38546 3; do (OMP_NUM_THREADS=4 ADAMAS_TEST_SEED=$seed timeout 200 $T --gtest_filter='CudaRuntimeCodeOptionsTest.MatchesCpuRuntime' > /tmp/o/seed_$seed.log 2>&1; echo "seed $seed rc $?" >> /tmp/o/seeds.txt) & done
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/GemvTest.MatchesReference/9?:Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/SelectAttentionTest.*bf16_d256_q16_kv2*' > /tmp/o/memcheck.log 2>&1; echo "memcheck rc $?"
tail -4 /tmp/o/memcheck.log
wait; el seeds
cat /tmp/o/seeds.txt
grep -h -A6 "Failure" /tmp/o/seed_*.log | head -20
tar czf $OUT/c6.tgz -C /tmp/o .
