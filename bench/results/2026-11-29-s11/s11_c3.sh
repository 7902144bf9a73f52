#!/usr/bin/env bash
# session 11 call 3: stage capacity 160 KiB with a group (two-pass lists at GQA 128K), asymmetric
# against L1; at GQA 32/8 the fused float kernel (ADAMAS_ASYM_VARIANT=new) against the two-pass
# (auto) and 4096 per block; probes; the suite; Quest prefill seed 28595 with the observers
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
$B --copy-bandwidth > $O/copy.jsonl
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators $3 --iters 50; }
for rep in 1 2 3; do
  for kv in 32 8; do for c in 8192 32768 131072; do
    run $kv $c l1,asymmetric | sed "s/^{/{\"round\": $rep, \"lib\": \"default\", /" >> $O/asym.jsonl
  done; done
  for c in 32768 131072; do
    ADAMAS_ASYM_VARIANT=new run 8 $c asymmetric | sed "s/^{/{\"round\": $rep, \"lib\": \"float\", /" >> $O/asym.jsonl
    ADAMAS_ASYM_PART=4096 run 8 $c asymmetric | sed "s/^{/{\"round\": $rep, \"lib\": \"part4096\", /" >> $O/asym.jsonl
  done
done
el bench
for p in 2 3 4 5 6; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_ASYM_PROBE=$p run $kv $c asymmetric | sed "s/^{/{\"probe\": $p, /" >> $O/probes.jsonl
done; done; done
el probes
cat $O/copy.jsonl
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator'], r['lib']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]), ' median %.2f' % st.median(rows[k]))
for l in open('/tmp/o/probes.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print('probe', r['probe'], r['kv_heads'], r['context'], '%.2f' % r['estimate_us'])
PY
ADAMAS_TEST_SEED=28595 OMP_NUM_THREADS=4 timeout 60 $T --gtest_filter='Policies/CudaPrefillTest.*' > $O/prefill_28595.log 2>&1; echo "prefill seed 28595 rc $?"
grep -A3 "Failure" $O/prefill_28595.log | head -20
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c3.tgz -C $O .
