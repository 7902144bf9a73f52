#!/usr/bin/env bash
# Session 30, call 7. fin = 787a0ae's executables with 8e36523's library (the row cut for 8 blocks);
# m8a / m8b = that library with the one-head grid kernels' partials merged 8 at a time
# (merge8_branch.patch.txt: where a row has at most 8 blocks; merge8_always.patch.txt: always, two
# rounds past 8). ptxas moved both scan loops (1196 / 1322 instructions against 1162). The isolated
# step alternating, then the step tests on both.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
for v in m8a m8b; do cp -n /tmp/fin/* /tmp/$v/ 2>/dev/null; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c7.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
iso() { local v=$1 kv=$2 c=$3
  run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c total %.2f us' % d['total_us'])"; }
for rep in 1 2 3; do for v in fin m8a m8b; do for s in "32 8192" "32 32768" "32 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
F='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*'
for v in m8a m8b; do
  for i in $(seq 0 15); do GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as $v timeout 75 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > $O/tests_${v}_$i.log 2>&1 & done; wait
  echo "tests $v: passed $(grep -h '^\[  PASSED  \]' $O/tests_${v}_*.log | awk '{s+=$4} END {print s+0}'), failed $(grep -h '^\[  FAILED  \] .*\.' $O/tests_${v}_*.log | wc -l)"
done
el tests
