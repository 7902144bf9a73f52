#!/usr/bin/env bash
# session 7 call 7: after the tile copy / query staging were shared by both attention kernels (no change meant):
# every attention test family, and the dense / adamas step at 32K
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o7
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies full,adamas --iters 30 >> /tmp/o7/bench.jsonl; done
python3 -c "
import json
for l in open('/tmp/o7/bench.jsonl'):
  r=json.loads(l)
  print(r['policy'], r['kv_heads'], r['context'], 'attend', r['attend_us'], 'total', r['total_us'])
"
el bench
T=/tmp/bin/adamas_cuda_tests
for i in $(seq 0 15); do
  OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i timeout 170 $T --gtest_brief=1 --gtest_filter='*SelectAttention*:*FusedAttend*:*NewKernelVariants*:*CudaDecoder*:*CudaGraph*' > /tmp/o7/t_$i.log 2>&1 &
done
wait; el tests
grep -h "^\[  PASSED  \]" /tmp/o7/t_*.log | awk '{s += $4} END {print "passed", s}'
grep -h "FAILED  \]" /tmp/o7/t_*.log | sort -u | head
grep -L "tests ran" /tmp/o7/t_*.log | head
grep -h -A8 "Failure" /tmp/o7/t_*.log | head -20
tar czf $OUT/c7.tgz -C /tmp/o7 .
