#!/usr/bin/env bash
# session 7 call 1: first GPU run of the two-pass asymmetric kernel (tests, benchmark), seed 38546, ncu of dense attention and GEMV
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
# quick smoke of twopass first (so a crash shows early)
timeout 60 $T --gtest_brief=1 --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv2*' > /tmp/o/smoke.log 2>&1; echo "smoke rc $?"; tail -15 /tmp/o/smoke.log
el smoke
for kv in 32 8; do for c in 8192 32768 131072; do
  for v in "new auto" "twopass auto" "twopass 4096" "twopass 8192"; do set -- $v
    ADAMAS_ASYM_VARIANT=$1 ADAMAS_ASYM_PART=$2 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 | sed "s/^{/{\"v\": \"$1\", \"p\": \"$2\", /" >> /tmp/o/bench.jsonl
  done
done; done
python3 -c "
import json
for l in open('/tmp/o/bench.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r['v'], r['p'], r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'], r['select_us'], r['attend_us'], r['total_us'])
"
el bench
for kv in 32 8; do ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies full --iters 30 >> /tmp/o/dense.jsonl; done
cat /tmp/o/dense.jsonl
timeout 100 ncu --clock-control none --kernel-name regex:"decode_attention_kernel" --launch-count 1 --set full --import-source yes -o /tmp/o/ncu_dense \
    $B --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies full --iters 1 > /dev/null 2>&1
ncu --import /tmp/o/ncu_dense.ncu-rep > /tmp/o/ncu_dense.txt 2>&1
ncu --import /tmp/o/ncu_dense.ncu-rep --page source --csv --print-source sass > /tmp/o/src_dense.csv 2>&1
grep -E "Duration|DRAM Through|Memory Through|Registers Per|Achieved Occ|Issued Warp|No Eligible|Block Limit" /tmp/o/ncu_dense.txt
el ncu dense
timeout 120 ncu --clock-control none --kernel-name regex:"gemv" --launch-skip 8 --launch-count 8 --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats -o /tmp/o/ncu_gemv \
    /tmp/bin/adamas bench-e2e --shape longchat-7b --batches 1 --contexts 8192 --policies full --iterations 1 --json > /dev/null 2>&1
ncu --import /tmp/o/ncu_gemv.ncu-rep > /tmp/o/ncu_gemv.txt 2>&1
grep -E "gemv|Duration|DRAM Through|Grid Size|Registers Per|Achieved Occ" /tmp/o/ncu_gemv.txt | head -60
el ncu gemv
(ADAMAS_TEST_SEED=38546 ADAMAS_TEST_VERBOSE=1 timeout 250 $T --gtest_filter='CudaRuntimeCodeOptionsTest.*' > /tmp/o/seed.log 2>&1; echo "rc $?" >> /tmp/o/seed.log) &
F='*Asymmetric*:*CodeOptionsSelect*'
for i in $(seq 0 13); do
  GTEST_TOTAL_SHARDS=14 GTEST_SHARD_INDEX=$i timeout 250 stdbuf -oL $T --gtest_brief=1 --gtest_filter="$F" > /tmp/o/tests_$i.log 2>&1 &
done
wait; el "tests"
grep -h "^\[  PASSED  \]" /tmp/o/tests_*.log | awk '{s += $4} END {print "passed", s}'
grep -h "FAILED  \]" /tmp/o/tests_*.log | head
grep -h -B2 -A12 "Failure" /tmp/o/tests_*.log | head -40
grep -i "centroid\|rc \|FAILED\|PASSED" /tmp/o/seed.log | head -20
rm -f /tmp/o/*.ncu-rep; tar czf $OUT/c1.tgz -C /tmp/o .
el done
