#!/bin/bash
# One call on the GPU machine: the GPU test suite, the benchmark next to PyTorch SDPA, then
# compute-sanitizer (memcheck and racecheck). Binaries are built on the dev machine (nvcc, sm_90a)
# and carried with their non-system libraries in BIN_DIR.
# usage: bench/run_device_suite.sh BIN_DIR OUT_DIR
set -u
BIN=$(readlink -f "$1")
OUT=$2
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv > "$OUT/gpu.txt" 2>&1
echo "== tests"
"$BIN/adamas_cuda_tests" > "$OUT/tests.log" 2>&1; echo "tests exit $?"; grep -E "PASSED|FAILED" "$OUT/tests.log" | head -20
echo "== bench"
ITERS=${ITERS:-30} bash "$(dirname "$0")/run_gpu_bench.sh" "$BIN" "$OUT" > "$OUT/bench.log" 2>&1; echo "bench exit $?"
echo "== sanitizer"
SUBSET='Shapes/SelectAttentionTest.MatchesReference/f16_d128_q8_kv2*:Shapes/SelectAttentionTest.MatchesReference/bf16_d64_q4*:Shapes/SelectAttentionTest.MatchesReference/f32_d256_q16*:Shapes/SelectAttentionTest.MatchesReference/f16_d64_q16*:Shapes/AppendTest.*:DecodePlanTest.*'
timeout 150 compute-sanitizer --tool memcheck "$BIN/adamas_cuda_tests" --gtest_filter="$SUBSET" > "$OUT/memcheck.log" 2>&1; echo "memcheck exit $?"; tail -2 "$OUT/memcheck.log"
RACE='Shapes/SelectAttentionTest.MatchesReference/f16_d128_q8_kv2*:Shapes/SelectAttentionTest.MatchesReference/bf16_d64_q4*:Shapes/AppendTest.*f16_d128_h2*'
timeout 120 compute-sanitizer --tool racecheck "$BIN/adamas_cuda_tests" --gtest_filter="$RACE" > "$OUT/racecheck.log" 2>&1; echo "racecheck exit $?"; tail -2 "$OUT/racecheck.log"
