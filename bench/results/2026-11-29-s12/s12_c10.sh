#!/usr/bin/env bash
# session 12 call 10: final review, the float kernel's store flag removed (keys stored in the scan
# again, as before the session); asymmetric against L1 at MHA (3 rounds), the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators $3 --iters 50; }
for rep in 1 2 3; do for kv in 32 8; do for c in 32768 131072; do
  run $kv $c l1,asymmetric | sed "s/^{/{\"round\": $rep, /" >> $O/asym.jsonl
done; done; done
el bench
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' in r: rows.setdefault((r['kv_heads'], r['context'], r['estimator']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]), ' median %.2f' % st.median(rows[k]))
PY
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
el suite
tar czf $OUT/c10.tgz -C $O .
