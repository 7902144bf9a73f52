#!/usr/bin/env bash
# session 7 call 2: GEMV split of `in` (k_slices): tests, ncu per product, bench-e2e A/B (ADAMAS_GEMV_SPLIT=1 vs auto)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
T=/tmp/bin/adamas_cuda_tests
for i in $(seq 0 11); do
  GTEST_TOTAL_SHARDS=12 GTEST_SHARD_INDEX=$i timeout 200 $T --gtest_brief=1 --gtest_filter='*Gemv*' > /tmp/o/gemv_$i.log 2>&1 &
done
wait; el gemv tests
grep -h "^\[  PASSED  \]\|FAILED  \]" /tmp/o/gemv_*.log | sort | uniq -c
grep -h -A8 "Failure" /tmp/o/gemv_*.log | head -30
for split in 1 auto; do
  ADAMAS_GEMV_SPLIT=$split timeout 120 ncu --clock-control none --kernel-name regex:"gemv" --launch-skip 8 --launch-count 8 --section SpeedOfLight -o /tmp/o/ncu_gemv_$split \
    /tmp/bin/adamas bench-e2e --shape longchat-7b --batches 1 --contexts 8192 --policies full --iterations 1 --json > /dev/null 2>&1
  ncu --import /tmp/o/ncu_gemv_$split.ncu-rep > /tmp/o/ncu_gemv_$split.txt 2>&1
  echo "== split $split"; grep -E "gemv_bf16_kernel|Duration|DRAM Through" /tmp/o/ncu_gemv_$split.txt | sed 's/(GemvProblem.*//' | paste - - - | head -8
done
el ncu
for split in 1 auto; do
  ADAMAS_GEMV_SPLIT=$split timeout 150 /tmp/bin/adamas bench-e2e --shape longchat-7b --batches 1 --contexts 32768,131072 --budgets 256 --policies full,adamas --gemv own --iterations 10 --json > /tmp/o/e2e_longchat_split_$split.json 2> /tmp/o/e2e_split_$split.log
  echo "split $split rc $?"
  python3 -c "
import json
d=json.load(open('/tmp/o/e2e_longchat_split_$split.json'))
for r in d['rows']: print(r['policy'], r['context'], r['budget'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'attn', round(r['attention_ms'],3), 'other', round(r['other_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
done
el e2e
ADAMAS_GEMV_SPLIT=auto timeout 100 /tmp/bin/adamas bench-e2e --shape llama3-8b --batches 1,4 --contexts 32768 --budgets 256 --policies full,adamas --iterations 10 --json > /tmp/o/e2e_llama3_auto.json 2>/tmp/o/e2e_llama3.log
python3 -c "
import json
d=json.load(open('/tmp/o/e2e_llama3_auto.json'))
for r in d['rows']: print(r['batch'], r['policy'], r['context'], r['budget'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'attn', round(r['attention_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
timeout 100 $T --gtest_brief=1 --gtest_filter='*CudaDecoder*' > /tmp/o/decoder.log 2>&1; echo "decoder rc $?"; tail -3 /tmp/o/decoder.log
el done
rm -f /tmp/o/*.ncu-rep; tar czf $OUT/c2.tgz -C /tmp/o .
