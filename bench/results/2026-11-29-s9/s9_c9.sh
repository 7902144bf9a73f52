#!/usr/bin/env bash
# session 9 call 9: racecheck over the cluster step's tests up to 12000 tokens (the new phase 2's shared
# and distributed shared memory), 16 processes
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
F='Shapes/ClusterStepTest.*:Shapes/ClusterStepProgrammaticTest.*:Sizes/ClusterSizeTest.*:-*n33000*:*n131072*:*n150000*:*n40001*:*n70000*'
for i in $(seq 0 15); do
  OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i timeout 230 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_filter="$F" > $O/racecheck_$i.log 2>&1 &
done
wait
echo "racecheck: ok $(grep -h '^\[       OK \]' $O/racecheck_*.log | wc -l), failed $(grep -h '^\[  FAILED  \]' $O/racecheck_*.log | grep -c '\.'), unfinished shards $(grep -L 'RACECHECK SUMMARY' $O/racecheck_*.log | wc -l)"
grep -h "RACECHECK SUMMARY" $O/racecheck_*.log | sort | uniq -c
for f in $(grep -L 'RACECHECK SUMMARY' $O/racecheck_*.log); do echo "$f running: $(grep '^\[ RUN' $f | tail -1)"; done
grep -h '^\[       OK \]' $O/racecheck_*.log | cut -c1-120
tar czf $OUT/c9.tgz -C $O .
