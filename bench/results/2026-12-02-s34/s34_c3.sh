#!/usr/bin/env bash
# Session 34, call 3. lead = main + the grid (rows, blocks) with pairs of a first-wave and a
# second-wave block; ADAMAS_GRID_LEAD = permille of a pair's candidates its first block scans.
set -u
source bench/device_ab_lib.sh
ab_setup c3
tests() {
  local v=$1 i
  for i in $(seq 0 15); do
    GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as $v timeout 150 /tmp/$v/adamas_cuda_tests \
      --gtest_brief=1 --gtest_filter='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' > "$O/tests_${v}_$i.log" 2>&1 &
  done
  wait
  echo "tests $v: passed $(grep -h '^\[  PASSED  \]' "$O"/tests_${v}_*.log | awk '{s += $4} END {print s + 0}')," \
    "failed $(grep -h '^\[  FAILED  \] .*\.' "$O"/tests_${v}_*.log | sort -u | wc -l)," \
    "unfinished $(grep -L 'PASSED\|FAILED' "$O"/tests_${v}_*.log | wc -l)"
  grep -h '^\[  FAILED  \] .*\.' "$O"/tests_${v}_*.log | sort -u | head -5
}
tests lead
el tests
iso() { local v=$1; shift; if [ "${v#lead}" != "$v" ]; then ADAMAS_GRID_LEAD=${v#lead} ab_iso lead "$@" | sed "s/iso lead/iso $v/"; else ab_iso $v "$@"; fi; }
for rep in 1 2 3; do for v in fin lead500 lead530 lead545 lead560 lead580; do for s in "32 32768" "32 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for rep in 1 2; do for v in fin lead500; do for s in "8 32768" "8 131072" "32 8192"; do iso $v $s; done; done; done 2>&1 | tee -a $O/iso.txt
el iso
for c in 32768 131072; do ADAMAS_GRID_LEAD=545 ab_trace lead $c; done
grep -h "scan ends\|merged" $O/trace_*.txt
el traces
