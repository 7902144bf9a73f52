#!/usr/bin/env bash
# session 10 call 7: the asymmetric closing block side by side: the first-digit histogram published by
# the parts or built from the list (ADAMAS_ASYM_PUBLISH), the third digit pass skipped when one key is
# left (ADAMAS_ASYM_SHORTCUT); against L1, MHA and GQA 32/8 at 8K/32K/128K, budget 256, L2 flushed,
# two rounds; then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
$B --copy-bandwidth > $O/copy.jsonl
for rep in 1 2; do for v in 00 01 10 11; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_ASYM_PUBLISH=${v:0:1} ADAMAS_ASYM_SHORTCUT=${v:1:1} ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 50 | sed "s/^{/{\"tail\": \"p${v:0:1}s${v:1:1}\", /" >> $O/asym.jsonl
done; done; done; done
el bench
cat $O/copy.jsonl
python3 -c "
import json
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator']), []).append((r['tail'], r['estimate_us']))
for k in sorted(rows): print(k, ' '.join('%s %.2f' % t for t in rows[k]))
"
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c7.tgz -C $O .
