#!/usr/bin/env bash
# session 7 call 3: GEMV with programmatic launch (weights requested before the wait): tests, bench-e2e A/B; observed CPU-vs-CUDA diagnostic of seed 38546
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
T=/tmp/bin/adamas_cuda_tests
for i in $(seq 0 11); do
  GTEST_TOTAL_SHARDS=12 GTEST_SHARD_INDEX=$i timeout 200 $T --gtest_brief=1 --gtest_filter='*Gemv*:*CudaDecoder*' > /tmp/o/gemv_$i.log 2>&1 &
done
wait; el gemv tests
grep -h "^\[  PASSED  \]\|FAILED  \]" /tmp/o/gemv_*.log | sort | uniq -c
grep -h -A8 "Failure" /tmp/o/gemv_*.log | head -30
for pdl in 0 1; do
  ADAMAS_GEMV_PDL=$pdl timeout 150 /tmp/bin/adamas bench-e2e --shape longchat-7b --batches 1 --contexts 32768,131072 --budgets 256 --policies full,adamas --gemv own --iterations 10 --json > /tmp/o/e2e_longchat_pdl_$pdl.json 2> /tmp/o/e2e_pdl_$pdl.log
  echo "pdl $pdl rc $?"
  python3 -c "
import json
d=json.load(open('/tmp/o/e2e_longchat_pdl_$pdl.json'))
for r in d['rows']: print(r['policy'], r['context'], r['budget'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'attn', round(r['attention_ms'],3), 'other', round(r['other_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
done
el e2e
(ADAMAS_TEST_SEED=38546 ADAMAS_TEST_VERBOSE=1 timeout 200 $T --gtest_filter='CudaRuntimeCodeOptionsTest.ObservedAsymmetricCalibrated' > /tmp/o/observed.log 2>&1; echo "rc $?" >> /tmp/o/observed.log)
el observed
grep -c . /tmp/o/observed.log; grep "observe\|Failure\|rc \|OK \]\|FAILED \]" /tmp/o/observed.log | head -60
tar czf $OUT/c3.tgz -C /tmp/o .
