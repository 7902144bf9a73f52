#!/usr/bin/env bash
# session 9 call 7: GEMV at 4 blocks per SM (64 registers; ADAMAS_GEMV_BLOCKS=4, now the default) against
# no bound (free: 72-77 registers, 3 blocks), with the split auto and 4: end to end; the GPU suite; the full
# GPU benchmark next to SDPA; memcheck and racecheck over the cluster step's and the GEMV's tests
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
A=/tmp/bin/adamas
T=/tmp/bin/adamas_cuda_tests
E="bench-e2e --iterations 10 --json --budgets 256 --batches 1 --shape longchat-7b"
for bl in 4 free; do for sp in auto 4; do
  ADAMAS_GEMV_BLOCKS=$bl ADAMAS_GEMV_SPLIT=$sp timeout 60 $A $E --policies full,adamas --contexts 8192,32768 > $O/e2e_blocks_${bl}_split_$sp.json 2>/dev/null; echo "blocks $bl split $sp rc $?"
done; done
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  d=json.load(open(f))
  for r in d['rows']: print(f.split('/')[-1][4:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
el ab
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/gpu > $O/gpu_bench.log 2>&1; echo "gpu bench rc $?"
sed -n '/^| batch/,$p' $O/gpu/gpu_bench_*.md | head -40
el gpu_bench
san() {  # name filter limit tool
  local name=$1 filter=$2 limit=$3 tool=$4
  for i in $(seq 0 11); do
    OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=12 GTEST_SHARD_INDEX=$i timeout $limit compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 --gtest_filter="$filter" > $O/${name}_$i.log 2>&1 &
  done
  wait
  echo "$name: passed $(grep -h '^\[  PASSED  \]' $O/${name}_*.log | awk '{s+=$4} END {print s+0}'), failed $(grep -h '^\[  FAILED  \]' $O/${name}_*.log | grep -c '\.'), errors $(grep -h 'ERROR SUMMARY' $O/${name}_*.log | awk '{s+=$4} END {print s+0}'), unfinished $(grep -L 'PASSED\|FAILED' $O/${name}_*.log | wc -l)"
  grep -h "RACECHECK SUMMARY\|ERROR SUMMARY" $O/${name}_*.log | sort | uniq -c
}
san memcheck 'Shapes/ClusterStepTest.*:Shapes/ClusterStepProgrammaticTest.*d128*:Sizes/ClusterSizeTest.*:Shapes/GemvTest.MatchesReference/1??' 170 memcheck
el memcheck
san racecheck 'Shapes/ClusterStepTest.*f16_d128*:Shapes/ClusterStepTest.*bf16_d256_q8*:Shapes/ClusterStepProgrammaticTest.*f16_d64_q4_kv2*:Sizes/ClusterSizeTest.*c5*:Shapes/GemvTest.MatchesReference/1??' 170 racecheck
el racecheck
tar czf $OUT/c7.tgz -C $O .
