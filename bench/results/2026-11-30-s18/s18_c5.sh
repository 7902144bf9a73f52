#!/usr/bin/env bash
# session 18 call 5 (nvidia-h200), the library as committed: memcheck and racecheck of the grid
# step's new kernel (2 blocks per SM, two rounds of codes), the four-head one and the cluster step,
# then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
export OMP_NUM_THREADS=4
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Counts/GridBlocksTest.*b8_sm2_f16_d128*' > $O/race/grid.log 2>&1 &
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Counts/GridBlocksTest.*b3*:Counts/GridBlocksTest.*b8_sm2*:Shapes/GridStepTest.*f16_d64_q2_kv1*:Shapes/ClusterStepTest.*f16_d64_q2_kv1*' > $O/mem/grid.log 2>&1 &
wait
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
el sanitizers
PARTS=tests LIMIT=330 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c5.tgz -C $O .
