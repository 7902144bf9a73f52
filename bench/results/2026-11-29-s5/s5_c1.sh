#!/usr/bin/env bash
# session 5 call 1: the whole GPU suite (8 shards in parallel), then ncu of the asymmetric kernel
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.sm --format=csv
for i in 0 1 2 3 4 5 6 7; do
  GTEST_TOTAL_SHARDS=8 GTEST_SHARD_INDEX=$i timeout 330 stdbuf -oL /tmp/bin/adamas_cuda_tests --gtest_brief=1 > $OUT/tests_$i.log 2>&1 &
done
wait; el "tests"
for i in 0 1 2 3 4 5 6 7; do grep -E "tests ran|PASSED|FAILED" $OUT/tests_$i.log | tr '\n' ' '; echo; done
grep -h -A12 "Failure" $OUT/tests_*.log | head -40
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do for c in 32768 131072; do
  timeout 60 ncu --clock-control none --kernel-name regex:"asym|bounded" --launch-count 2 --set full --import-source no -o /tmp/ncu_${kv}_$c \
    $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 1 > /dev/null 2>&1
  ncu --import /tmp/ncu_${kv}_$c.ncu-rep > $OUT/ncu_${kv}_$c.txt 2>&1
  ncu --import /tmp/ncu_${kv}_$c.ncu-rep --page source --csv --print-source sass --kernel-name regex:asym > $OUT/ncu_src_${kv}_$c.csv 2>&1
  grep -E "void|Duration|DRAM Through|Registers Per|Achieved Occ|Issued Warp|Eligible Warps|No Eligible" $OUT/ncu_${kv}_$c.txt
done; done
el "ncu"
for kv in 32 8; do
  timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 >> $OUT/bench.jsonl
  timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context 131072 --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 >> $OUT/bench.jsonl
done
python3 -c "
import json
for l in open('$OUT/bench.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'], r['select_us'], r['attend_us'], r['total_us'])
"
el done
