#!/usr/bin/env bash
# Session 34, call 2. bal2 = pf + pairs (one head a row only) that claim without a barrier: thread 0
# publishes each claim a round later in a shared flag a round ahead of its readers (balo2: pairs off).
set -u
source bench/device_ab_lib.sh
ab_setup c2
tests() {
  local v=$1 i
  for i in $(seq 0 15); do
    GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as $v timeout 150 /tmp/bal/adamas_cuda_tests \
      --gtest_brief=1 --gtest_filter='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' > "$O/tests_${v}_$i.log" 2>&1 &
  done
  wait
  echo "tests $v: passed $(grep -h '^\[  PASSED  \]' "$O"/tests_${v}_*.log | awk '{s += $4} END {print s + 0}')," \
    "failed $(grep -h '^\[  FAILED  \] .*\.' "$O"/tests_${v}_*.log | sort -u | wc -l)," \
    "unfinished $(grep -L 'PASSED\|FAILED' "$O"/tests_${v}_*.log | wc -l)"
  grep -h '^\[  FAILED  \] .*\.' "$O"/tests_${v}_*.log | sort -u | head -5
}
tests bal2
el tests
iso() { if [ "$1" = balo2 ]; then ADAMAS_GRID_PAIRS=off ab_iso bal2 $2 $3 | sed 's/iso bal2/iso balo2/'; else ab_iso "$@"; fi; }
for rep in 1 2 3; do for v in fin bal2 balo2; do for s in "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for c in 32768 131072; do ab_trace bal2 $c; done
grep -h "scan ends\|merged" $O/trace_*.txt
el traces
