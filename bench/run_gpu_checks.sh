#!/bin/bash
# The GPU suite and compute-sanitizer over it, in one call on the GPU machine, in parallel processes
# (the suite is bound by its CPU references: 8 shards took 281 s for 576 tests on the H200 host's 16
# cores, one process about 20 minutes). Binaries are built on the dev machine (nvcc, sm_90a) and
# carried with their non-system libraries in BIN_DIR.
# usage: [PARTS="tests memcheck racecheck"] [LIMIT=seconds per part] bench/run_gpu_checks.sh BIN_DIR OUT_DIR [SHARDS]
#   SHARDS: parallel processes (default: CPU cores, at most 16). A device call lasts 10 minutes at most:
#   give each part its own call, or the parts together a LIMIT that fits.
# Writes OUT_DIR/tests_<i>.log, memcheck_<i>.log, racecheck_<i>.log and prints one line per part.
set -u
BIN=$(readlink -f "$1")
OUT=$2
SHARDS=${3:-$(( $(nproc) < 16 ? $(nproc) : 16 ))}
PARTS=${PARTS:-tests memcheck racecheck}
LIMIT=${LIMIT:-540}
wants() { [[ " $PARTS " == *" $1 "* ]]; }
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN:${LD_LIBRARY_PATH:-}
T=$BIN/adamas_cuda_tests
start=$(date +%s)
since() { echo "$(( $(date +%s) - start )) s"; }

# shards NAME FILTER TIMEOUT [TOOL...]: SHARDS processes of the test binary (under TOOL if given).
shards() {
  local name=$1 filter=$2 limit=$3; shift 3
  for ((i = 0; i < SHARDS; ++i)); do
    # One OpenMP thread per shard: with every core per process the CPU references oversubscribe the
    # host (the attention and decoder families took 16 s on 16 shards with 1 thread, seventh session).
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} GTEST_TOTAL_SHARDS=$SHARDS GTEST_SHARD_INDEX=$i timeout "$limit" stdbuf -oL "$@" "$T" --gtest_brief=1 \
      --gtest_filter="$filter" > "$OUT/${name}_$i.log" 2>&1 &
  done
  wait
  local passed failed errors
  passed=$(grep -h "^\[  PASSED  \]" "$OUT/${name}"_*.log | awk '{s += $4} END {print s + 0}')
  failed=$(grep -h "^\[  FAILED  \]" "$OUT/${name}"_*.log | grep -c "\." || true)
  errors=$(grep -h "ERROR SUMMARY" "$OUT/${name}"_*.log | awk '{s += $4} END {print s + 0}')
  echo "$name: $passed passed, $failed failed, sanitizer errors $errors, unfinished shards $(grep -L "tests ran\|PASSED\|FAILED" "$OUT/${name}"_*.log | wc -l) ($(since))"
}

nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/gpu.txt" 2>&1
wants tests && shards tests '*' "$LIMIT"
# Every kernel family at one or two shapes each: fused and bounded L1, bulk, asymmetric (fused, split,
# radix), generic codes (every estimator), append with every book, fused attend, dense and sparse
# attention (the warp split by default), prefill, graphs, GEMV with split rows.
MEM='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/NewKernelVariantsTest.*bf16_d64_q4*:Shapes/BulkEstimateTest.*f16_d128_q8*'
MEM+=':Shapes/AsymmetricSelectTest.*d128_q8_kv2*:Shapes/AsymmetricSelectTest.*page24*:Shapes/CodeOptionsSelectTest.*d128_q8_kv2*_l2_2bit_cal'
MEM+=':Shapes/CodeOptionsSelectTest.*d64_q4_kv4*hamming_3bit_nohad_cal:Shapes/CodeOptionsSelectTest.*d64_q4_kv4*l1_1bit_cal:Shapes/CodeOptionsAppendTest.*f16_d128_h2_p16_3bit*:Shapes/FusedAttendTest.*f16_d128_q8*'
MEM+=':Shapes/AppendTest.*:Shapes/PrefillKernelTest.*:DecodePlanTest.*:Policies/CudaGraphDecodeTest.*'
MEM+=':Shapes/GemvTest.MatchesReference/9?'  # forced splits of in (2 slices), every epilogue
MEM+=':Shapes/ClusterStepTest.*f16_d64_q2_kv1*:Shapes/ClusterStepProgrammaticTest.*bf16_d128_q16_kv2*'  # the cluster step
MEM+=':Shapes/GridStepTest.*f16_d64_q2_kv1*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*'  # the grid step
MEM+=':Steps/StepCurrentTokenTest.*'  # both steps with the current token's K/V from their arguments
MEM+=':Steps/StepSkewedSelectionTest.*/grid*'  # the grid step sharing a row's attention out (both ways)
MEM+=':Shapes/DenseMmaTest.*f16_d128_q8_kv2*:Shapes/DenseMmaTest.*bf16_d64_q16_kv2*'  # dense on the tensor cores
wants memcheck && shards memcheck "$MEM" "$LIMIT" compute-sanitizer --tool memcheck --error-exitcode 1
# (the asymmetric kernels at d128_q8_kv2_b2_n4100_page24: the b5_n9000 shape did not finish in 550 s)
RACE='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv2_b2_n4100*'
RACE+=':Shapes/FusedAttendTest.*f16_d128_q8*:Shapes/CodeOptionsSelectTest.*d64_q4_kv4_b4_n4500_l2_2bit_cal'
RACE+=':Shapes/ClusterStepTest.*bf16_d256_q8_kv2*:Shapes/ClusterStepProgrammaticTest.*f16_d64_q4_kv2*'
RACE+=':Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*'  # one head a row: the grid step's auto case
RACE+=':Steps/StepCurrentTokenTest.*/1'  # the grid step with the current token's K/V from its arguments
RACE+=':Steps/StepSkewedSelectionTest.*/grid'  # the grid step sharing a row's attention out
RACE+=':Shapes/DenseMmaTest.MatchesReference/bf16_d128_q8_kv2*'  # dense on the tensor cores
# One budget in the selection tests that read ADAMAS_TEST_BUDGETS (every kernel variant still runs):
# the asymmetric test's ten budgets ran past 550 s under racecheck (fifteenth session).
wants racecheck && ADAMAS_TEST_BUDGETS=256 shards racecheck "$RACE" "$LIMIT" compute-sanitizer --tool racecheck --error-exitcode 1
