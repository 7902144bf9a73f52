#!/usr/bin/env bash
# session 10 call 5: where the fused asymmetric estimate's tail goes (ADAMAS_ASYM_PROBE: 2 scan end,
# 3 part bound, 4 last block after its ticket (list appended), 5 list read, 6 digit passes done),
# MHA and GQA 32/8 at 32K and 128K, budget 256, L2 flushed; then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
for p in 0 2 3 4 5 6 0; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_ASYM_PROBE=$p ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators asymmetric --iters 50 | sed "s/^{/{\"probe\": $p, /" >> $O/asym.jsonl
done; done; done
el bench
python3 -c "
import json
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context']), []).append((r['probe'], r['estimate_us']))
for k in sorted(rows): print(k, ' '.join('p%d %.2f' % t for t in rows[k]))
"
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
el suite
tar czf $OUT/c5.tgz -C $O .
