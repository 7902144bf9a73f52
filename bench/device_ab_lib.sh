#!/usr/bin/env bash
# Shared pieces of the device calls that compare builds of the library (A/B), sourced by a call's
# script on the GPU machine. Before the call, on the dev machine:
#   - build with -DADAMAS_SHARED_LIB=ON; put one build's executables and library in fin/, and each
#     other variant's libadamas.so alone in its own directory (stripped: strip --strip-unneeded);
#   - tar cf - fin VARIANT... | xz -9 -T2 > .cuda-run/all.tar.xz, and pass carry: [".cuda-run"].
# A variant runs fin's executables with its own library first on the loader's path (run_as).
#
# usage, in a call's script:
#   source bench/device_ab_lib.sh
#   ab_setup c1                      # unpacks, sets O (outputs) and packs O into $OUT/c1.tgz at exit
#   ab_step_tests VARIANT FILTER TAG [BIN] # the GPU tests in 16 shards, one line of counts
#   for rep in 1 2 3; do for v in fin VARIANT; do ab_iso $v 32 32768; done; done | tee $O/iso.txt
#   ab_trace VARIANT 32768           # ADAMAS_STEP_TRACE stamps of the MHA step into $O
#   ab_sanitize VARIANT              # memcheck and racecheck over the grid step's tests
#   ab_e2e VARIANT 32768 llama3-8b   # adamas bench-e2e (fin's CLI), one line: ms a token
#   ab_ncu VARIANT 131072            # Nsight Compute stall samples of the grid step, by phase
#   el "what ended"                  # seconds since ab_setup
# The session-31 and earlier calls (bench/results/*/s*_c*.sh) spelled these out.

# Unpacks .cuda-run/all.tar.xz into /tmp; O = /tmp/o, packed into $OUT/NAME.tgz when the script exits.
ab_setup() {
  local name=$1
  tar xJf .cuda-run/all.tar.xz -C /tmp
  AB_T0=$(date +%s)
  O=/tmp/o
  rm -rf "$O"
  mkdir -p "$O"
  export CUDA_VISIBLE_DEVICES=0
  AB_NAME=$name
  trap 'tar czf "$OUT/$AB_NAME.tgz" -C "$O" .' EXIT
}

el() { echo "[$(($(date +%s) - AB_T0)) s] $*"; }

# run_as VARIANT COMMAND...: COMMAND with VARIANT's library (/tmp/VARIANT) first on the loader's path.
run_as() {
  local variant=$1
  shift
  LD_LIBRARY_PATH=/tmp/$variant:/usr/local/cuda/lib64 "$@"
}

# ab_iso VARIANT KV_HEADS CONTEXT: the isolated step (32 query heads, batch 1, budget 256), one line.
ab_iso() {
  local variant=$1 kv=$2 context=$3
  run_as "$variant" timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads "$kv" \
    --context "$context" --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json, sys
for line in sys.stdin:
    if line.startswith('{'):
        print('iso $variant kv$kv c$context total %.2f us' % json.loads(line)['total_us'])"
}

# ab_step_tests VARIANT FILTER TAG [BIN]: the test binary of BIN (default fin: a variant that adds
# tests carries its own) with VARIANT's library, 16 shards of 90 s (AB_TEST_LIMIT).
ab_step_tests() {
  local variant=$1 filter=$2 tag=$3 bin=${4:-fin} i
  for i in $(seq 0 15); do
    GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as "$variant" timeout "${AB_TEST_LIMIT:-90}" /tmp/$bin/adamas_cuda_tests \
      --gtest_brief=1 --gtest_filter="$filter" > "$O/tests_${tag}_$i.log" 2>&1 &
  done
  wait
  echo "tests $tag: passed $(grep -h '^\[  PASSED  \]' "$O"/tests_"${tag}"_*.log | awk '{s += $4} END {print s + 0}')," \
    "failed $(grep -h '^\[  FAILED  \] .*\.' "$O"/tests_"${tag}"_*.log | sort -u | wc -l)," \
    "unfinished $(grep -L 'PASSED\|FAILED' "$O"/tests_"${tag}"_*.log | wc -l)"
}

# ab_trace VARIANT CONTEXT [KV_HEADS]: one traced launch's phase stamps (trace_*.txt, stamps_*.csv).
ab_trace() {
  local variant=$1 context=$2 kv=${3:-32}
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_${variant}_$context.csv run_as "$variant" timeout 60 \
    /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads "$kv" --context "$context" --budgets 256 \
    --policies adamas --estimators l1 > "$O/trace_${variant}_$context.txt" 2>&1
}

# ab_sanitize VARIANT: compute-sanitizer memcheck (4 shards) and racecheck (2) over the grid step's
# tests, in parallel; prints each shard's summary.
ab_sanitize() {
  local variant=$1 i
  local memcheck='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/GridStepTest.*f16_d128_q32_kv32*:Shapes/GridStepSharedTest.*f16_d128_q4_kv4*:Shapes/GridStepProgrammaticTest.*bf16_d128_q16_kv2*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
  local racecheck='Shapes/GridStepTest.*/f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
  for i in 0 1 2 3; do
    GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i run_as "$variant" timeout 100 compute-sanitizer --tool memcheck \
      --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$memcheck" > "$O/memcheck_$i.log" 2>&1 &
  done
  for i in 0 1; do
    GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i run_as "$variant" timeout 100 compute-sanitizer --tool racecheck \
      --error-exitcode 1 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$racecheck" > "$O/racecheck_$i.log" 2>&1 &
  done
  wait
  grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" "$O"/memcheck_*.log "$O"/racecheck_*.log
}

# ab_e2e VARIANT CONTEXT SHAPE: end to end with fin's CLI (adamas bench-e2e, budget 256, batch 1,
# 10 iterations; SHAPE longchat-7b or llama3-8b), one line; the JSON is kept in $O.
ab_e2e() {
  local variant=$1 context=$2 shape=$3 base
  base=$O/e2e_${variant}_${shape}_$context
  run_as "$variant" timeout 80 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 \
    --batches 1 --contexts "$context" --shape "$shape" > "$base.json" 2> "$base.err" || tail -2 "$base.err"
  python3 -c "import json, sys
for r in json.load(open(sys.argv[1]))['rows']:
    print('e2e $variant $shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])" "$base.json"
}

# ab_ncu VARIANT CONTEXT [KV_HEADS]: Nsight Compute's per-instruction stall samples of one grid step
# launch (ncu_sass_*.csv.xz) and their sums by phase (scripts/ncu_phase_stalls.py, ncu_phases_*.txt).
ab_ncu() {
  local variant=$1 context=$2 kv=${3:-32} tag=${1}_$2
  run_as "$variant" timeout 150 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 \
    --section WarpStateStats --section SourceCounters --import-source no -o "/tmp/ncu_$tag" \
    /tmp/fin/adamas_cuda_bench --batch 1 --q-heads 32 --kv-heads "$kv" --context "$context" --budgets 256 \
    --policies adamas --estimators l1 --iters 3 > "$O/ncu_run_$tag.log" 2>&1
  ncu --import "/tmp/ncu_$tag.ncu-rep" --page source --csv --print-source sass 2> /dev/null | xz -T2 > "$O/ncu_sass_$tag.csv.xz"
  python3 scripts/ncu_phase_stalls.py "$O/ncu_sass_$tag.csv.xz" > "$O/ncu_phases_$tag.txt" 2>&1
  sed -n 2,16p "$O/ncu_phases_$tag.txt"
}
