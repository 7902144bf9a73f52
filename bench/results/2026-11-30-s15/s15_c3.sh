#!/usr/bin/env bash
# session 15 call 3 (nvidia-h200-x2), final library: racecheck with every test of the suite's
# racecheck set in its own process (GPU 1: the asymmetric shape alone; GPU 0: the other nine), and
# the GPU suite on GPU 1 beside it
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
RACE=$(grep "^RACE" bench/run_gpu_checks.sh | sed -E "s/^RACE\+?=//; s/'//g; s/ *#.*//" | tr -d '\n')
i=0
for t in $($T --gtest_list_tests --gtest_filter="$RACE" | awk '/^[^ ]/ {s=$1} /^  / {print s $1}'); do
  gpu=0; case $t in *AsymmetricSelectTest*) gpu=1;; esac
  CUDA_VISIBLE_DEVICES=$gpu OMP_NUM_THREADS=2 timeout 400 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter="$t" > $O/race/race_$i.log 2>&1 &
  echo "$i $t gpu $gpu"; i=$((i+1))
done
(CUDA_VISIBLE_DEVICES=1 PARTS=tests LIMIT=240 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 8 > $O/checks.log 2>&1; tail -2 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head; el suite) &
wait
for l in $O/race/race_*.log; do echo "$l $(grep -cE '^\[  PASSED  \] 1 test' $l) passed $(grep -E 'RACECHECK SUMMARY' $l)"; done
el racecheck
tar czf $OUT/c3.tgz -C $O .
