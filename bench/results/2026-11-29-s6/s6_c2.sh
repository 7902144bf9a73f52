#!/usr/bin/env bash
# session 6 call 2: repeat the failed runtime test's seed; ncu (per-instruction stalls) of the fused asymmetric kernel
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
(ADAMAS_TEST_SEED=38546 timeout 280 /tmp/bin/adamas_cuda_tests --gtest_filter='CudaRuntimeCodeOptionsTest.*' > /tmp/seed.log 2>&1; echo "rc $?" >> /tmp/seed.log) &
B=/tmp/bin/adamas_cuda_bench
mkdir -p /tmp/o
for cfg in "32 32768" "8 131072" "32 131072"; do set -- $cfg; kv=$1; c=$2
  timeout 100 ncu --clock-control none --kernel-name regex:"asymmetric_fused_kernel" --launch-count 1 --set full --import-source yes -o /tmp/o/ncu_${kv}_$c \
    $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators asymmetric --iters 1 > /dev/null 2>&1
  ncu --import /tmp/o/ncu_${kv}_$c.ncu-rep > /tmp/o/ncu_${kv}_$c.txt 2>&1
  ncu --import /tmp/o/ncu_${kv}_$c.ncu-rep --page source --csv --print-source sass > /tmp/o/src_${kv}_$c.csv 2>&1
  grep -E "Duration|Registers Per|Achieved Occ|Issued Warp|No Eligible|Block Limit" /tmp/o/ncu_${kv}_$c.txt
  el "ncu $kv $c"
done
for kv in 32 8; do for c in 8192 32768 131072; do
  timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 >> /tmp/o/bench_auto.jsonl
done; done
python3 -c "
import json
for l in open('/tmp/o/bench_auto.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r.get('flush'), r.get('asym_split'), r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'], r['select_us'], r['attend_us'], r['total_us'])
"
wait
tail -30 /tmp/seed.log; cp /tmp/seed.log /tmp/o/
rm -f /tmp/o/*.ncu-rep; tar czf $OUT/c2.tgz -C /tmp/o .
el done
