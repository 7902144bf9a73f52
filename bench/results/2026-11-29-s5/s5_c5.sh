#!/usr/bin/env bash
# session 5 call 5: asymmetric kernel, keys in shared memory, groups unrolled: its tests, benchmark against L1, ncu
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
F='*Asymmetric*:*CodeOptionsSelect*'
for i in 0 1 2 3 4 5 6 7; do
  GTEST_TOTAL_SHARDS=8 GTEST_SHARD_INDEX=$i timeout 200 stdbuf -oL /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > /tmp/tests_$i.log 2>&1 &
done
wait; el "tests"
for i in 0 1 2 3 4 5 6 7; do grep -E "tests ran|PASSED|FAILED" /tmp/tests_$i.log | tr '\n' ' '; echo; done
grep -h -B2 -A12 "Failure" /tmp/tests_*.log | head -60
cat /tmp/tests_*.log > $OUT/tests.log
B=/tmp/bin/adamas_cuda_bench
for fl in write read; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=$fl timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 >> $OUT/bench.jsonl
done; done; done
python3 -c "
import json
for l in open('$OUT/bench.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r['flush'], r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'], r['select_us'], r['attend_us'], r['total_us'])
"
el bench
for kv in 32; do c=131072
  timeout 90 ncu --clock-control none --kernel-name regex:"asymmetric_fused" --launch-count 1 --set full --import-source yes -o /tmp/ncu_${kv}_$c \
    $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators asymmetric --iters 1 > /dev/null 2>&1
  ncu --import /tmp/ncu_${kv}_$c.ncu-rep > $OUT/ncu_${kv}_$c.txt 2>&1
  ncu --import /tmp/ncu_${kv}_$c.ncu-rep --page source --csv --print-source sass > $OUT/ncu_src_${kv}_$c.csv 2>&1
  grep -E "void|Duration|DRAM Through|Registers Per|Achieved Occ|Issued Warp|Eligible Warps|No Eligible" $OUT/ncu_${kv}_$c.txt
done
el done
