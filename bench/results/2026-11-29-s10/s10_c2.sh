#!/usr/bin/env bash
# session 10 call 2: ADAMAS_CODE_PREFETCH (each estimate block's code pages requested into L2 by bulk
# prefetches as it starts) against none: the L1 and asymmetric estimate passes and the step, MHA and
# GQA 32/8, 32K and 128K, budget 256, L2 flushed; then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
$B --copy-bandwidth > $O/copy.jsonl
for pf in 0 1; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_CODE_PREFETCH=$pf ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 | sed "s/^{/{\"code_prefetch\": $pf, /" >> $O/prefetch.jsonl
done; done; done
el bench
cat $O/copy.jsonl
python3 -c "
import json
for l in open('/tmp/o/prefetch.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print('pf', r['code_prefetch'], 'kv', r['kv_heads'], r['context'], r.get('estimator'), 'est', r['estimate_us'], 'sel', r['select_us'], 'att', r['attend_us'], 'total', r['total_us'])
"
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c2.tgz -C $O .
