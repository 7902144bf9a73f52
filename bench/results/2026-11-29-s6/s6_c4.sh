#!/usr/bin/env bash
# session 6 call 4: asymmetric parts with bounded unrolling: benchmark, tests; diagnose the failing runtime seed
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
T=/tmp/bin/adamas_cuda_tests
for v in "ADAMAS_NO_GRAPH=1" "ADAMAS_ASYM_VARIANT=old" "ADAMAS_FUSED_ATTEND=0"; do
  echo "== $v"; env $v ADAMAS_TEST_SEED=38546 timeout 60 $T --gtest_filter='CudaRuntimeCodeOptionsTest.*' 2>&1 | grep -E "actual|seed=|OK|FAILED  \]" | head -4
done
for s in $(seq 1 24); do
  (ADAMAS_TEST_SEED=$s timeout 60 $T --gtest_filter='CudaRuntimeCodeOptionsTest.*' > /tmp/o/sweep_$s.log 2>&1) &
  [ $((s % 8)) = 0 ] && wait
done; wait
grep -h "seed=" /tmp/o/sweep_*.log | sort | uniq -c | head; grep -l "FAILED  \]" /tmp/o/sweep_*.log | wc -l
el diag
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do for c in 8192 32768 131072; do for p in auto 4096 8192; do
  ADAMAS_ASYM_PART=$p timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 >> /tmp/o/bench.jsonl
done; done; done
python3 -c "
import json
for l in open('/tmp/o/bench.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r.get('flush'), r.get('asym_part'), r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'], r['select_us'], r['attend_us'], r['total_us'])
"
el bench
F='*Asymmetric*'
for i in $(seq 0 15); do
  GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i timeout 200 stdbuf -oL $T --gtest_brief=1 --gtest_filter="$F" > /tmp/o/tests_$i.log 2>&1 &
done
wait; el "tests"
grep -h "^\[  PASSED  \]" /tmp/o/tests_*.log | awk '{s += $4} END {print "passed", s}'
grep -h -B2 -A12 "Failure" /tmp/o/tests_*.log | head -40
tar czf $OUT/c4.tgz -C /tmp/o .
el done
