#!/usr/bin/env bash
# session 12 call 1: the fused asymmetric estimate in clusters of 1, 2, 4 blocks sharing their
# histograms (ADAMAS_ASYM_CLUSTER), and the two-pass kernel's error bound halved; asymmetric against
# L1 (3 rounds), probes, then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
$B --copy-bandwidth > $O/copy.jsonl
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators $3 --iters 50; }
for rep in 1 2 3; do for kv in 8 32; do for c in 32768 131072; do
  run $kv $c l1 | sed "s/^{/{\"round\": $rep, \"cluster\": 0, /" >> $O/asym.jsonl
  for cl in 1 2 4; do
    ADAMAS_ASYM_CLUSTER=$cl run $kv $c asymmetric | sed "s/^{/{\"round\": $rep, \"cluster\": $cl, /" >> $O/asym.jsonl
  done
done; done; done
el bench
for p in 2 3 4 5 6; do for kv in 8 32; do for cl in 1 2 4; do
  ADAMAS_ASYM_CLUSTER=$cl ADAMAS_ASYM_PROBE=$p run $kv 131072 asymmetric | sed "s/^{/{\"probe\": $p, \"cluster\": $cl, /" >> $O/probes.jsonl
done; done; done
el probes
cat $O/copy.jsonl
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator'], r['cluster']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]), ' median %.2f' % st.median(rows[k]))
pr={}
for l in open('/tmp/o/probes.jsonl'):
  r=json.loads(l)
  if 'policy' in r: pr.setdefault((r['kv_heads'], r['cluster']), {})[r['probe']] = r['estimate_us']
for k in sorted(pr): print('probes kv', k[0], 'cluster', k[1], ' '.join('%d:%.2f' % (p, t) for p, t in sorted(pr[k].items())))
PY
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c1.tgz -C $O .
