#!/usr/bin/env bash
# Session 30, call 1 (the s29 call-4 script, run). bin = main (bf5536d) executables and library; ra = bin's library with the grid
# step's row barrier and ticket as release/acquire atomics (one fence instead of two
# __threadfence); wide = ra with grid_step.cu compiled for blocks of 512 threads, one per SM
# (ADAMAS_FUSED_THREADS=512: 4 blocks a row at 32 rows instead of 8 of 256 threads, two per SM).
# (1) the step tests on ra and wide; (2) the isolated step alternating, and bin at pages of 16 and
# 64; (3) stamps of ra and wide.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
for t in ra wide; do cp -n /tmp/bin/* /tmp/$t/ 2>/dev/null; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c1.tgz -C $O .; }
trap finish EXIT
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
F='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*'
for v in ra wide; do
  for i in $(seq 0 7); do GTEST_TOTAL_SHARDS=8 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as $v timeout 100 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > $O/tests_${v}_$i.log 2>&1 & done; wait
  echo "tests $v:"; grep -h "^\[  PASSED  \]\|^\[  FAILED  \]" $O/tests_${v}_*.log | awk '{print $1, $2, $3, $4}' | sort | uniq -c
  grep -h "FAILED  \]" $O/tests_${v}_*.log | head -5
done
el tests
iso() { local v=$1 kv=$2 c=$3; shift 3
  run_as $v timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 "$@" 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c $* total %.2f us' % d['total_us'])"; }
for rep in 1 2 3; do for v in bin ra wide; do for s in "32 32768" "32 131072" "8 32768"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for rep in 1 2; do for v in bin wide; do for p in 16 64; do iso $v 32 32768 --page-size $p; iso $v 32 131072 --page-size $p; done; done; done 2>&1 | tee -a $O/iso.txt
el iso
for v in bin ra wide; do for c in 32768 131072; do
  f=$O/stamps_${v}_$c.csv
  ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$f run_as $v timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_$c.txt 2>&1
  python3 bench/stamps_summary.py $f > $O/summary_${v}_$c.txt 2>&1
done; done
head -14 $O/trace_wide_32768.txt $O/trace_wide_131072.txt
el stamps
