#!/usr/bin/env bash
# Session 34, call 1. fin = main (10ae6b9, kernels of 5769bb0); pf = the page-table row prefetched to
# L2 at the start; bal = pf + the row's blocks paired, each pair's split claimed round by round
# (balo: bal with ADAMAS_GRID_PAIRS=off).
set -u
source bench/device_ab_lib.sh
ab_setup c1
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu --format=csv > $O/gpu.txt
bal_tests() {
  local i
  for i in $(seq 0 15); do
    GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as bal timeout 120 /tmp/bal/adamas_cuda_tests \
      --gtest_brief=1 --gtest_filter='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' > "$O/tests_bal_$i.log" 2>&1 &
  done
  wait
  echo "tests bal: passed $(grep -h '^\[  PASSED  \]' "$O"/tests_bal_*.log | awk '{s += $4} END {print s + 0}')," \
    "failed $(grep -h '^\[  FAILED  \] .*\.' "$O"/tests_bal_*.log | sort -u | wc -l)," \
    "unfinished $(grep -L 'PASSED\|FAILED' "$O"/tests_bal_*.log | wc -l)"
  grep -h '^\[  FAILED  \] .*\.' "$O"/tests_bal_*.log | sort -u | head -5
}
bal_tests &
ab_sanitize fin > $O/sanitize_fin.txt 2>&1 &
wait
cat $O/sanitize_fin.txt
el tests
iso() { if [ "$1" = balo ]; then ADAMAS_GRID_PAIRS=off ab_iso bal $2 $3 | sed 's/iso bal/iso balo/'; else ab_iso "$@"; fi; }
for rep in 1 2; do for v in fin pf bal balo; do for s in "32 32768" "32 131072" "8 32768" "8 131072" "32 8192"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in pf bal; do for c in 32768 131072; do ab_trace $v $c; done; done
grep -h "scan ends\|merged" $O/trace_*.txt
el traces
for c in 32768 131072; do run_as fin timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 --page-size 64 2>/dev/null | grep '^{' | python3 -c "import json,sys; print('page64 fin c$c', json.loads(sys.stdin.readline())['total_us'])"; done | tee $O/page64.txt
el page64
