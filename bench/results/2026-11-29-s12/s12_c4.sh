#!/usr/bin/env bash
# session 12 call 4: no key stores before the cluster barrier (two-pass: 0xffffffff written after the cut;
# fused: stored in the listing loop when in a cluster); asymmetric against L1 at every shape (3 rounds),
# pairs at MHA and without pairs at GQA 128K, probes, suite, racecheck
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
  for kv in 8 32; do for c in 8192 32768 131072; do
    run $kv $c l1,asymmetric | sed "s/^{/{\"round\": $rep, \"cluster\": \"auto\", /" >> $O/asym.jsonl
  done; done
  for c in 32768 131072; do
    ADAMAS_ASYM_CLUSTER=2 run 32 $c asymmetric | sed "s/^{/{\"round\": $rep, \"cluster\": \"2\", /" >> $O/asym.jsonl
  done
  ADAMAS_ASYM_CLUSTER=1 run 8 131072 asymmetric | sed "s/^{/{\"round\": $rep, \"cluster\": \"1\", /" >> $O/asym.jsonl
done
el bench
for p in 2 3 4 5 6; do for cl in 1 2; do for c in 32768 131072; do
  ADAMAS_ASYM_CLUSTER=$cl ADAMAS_ASYM_PROBE=$p run 32 $c asymmetric | sed "s/^{/{\"probe\": $p, \"cluster\": $cl, /" >> $O/probes.jsonl
done; done; done
for p in 2 3 4 5 6; do
  ADAMAS_ASYM_PROBE=$p run 8 131072 asymmetric | sed "s/^{/{\"probe\": $p, \"cluster\": \"auto\", /" >> $O/probes.jsonl
done
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
  if 'policy' in r: pr.setdefault((r['kv_heads'], r['context'], str(r['cluster'])), {})[r['probe']] = r['estimate_us']
for k in sorted(pr): print('probes', k, ' '.join('%d:%.2f' % (p, t) for p, t in sorted(pr[k].items())))
PY
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
for v in twopass new; do
  ADAMAS_ASYM_VARIANT=$v ADAMAS_ASYM_CLUSTER=2 timeout 80 compute-sanitizer --tool racecheck --error-exitcode 1 $B --batch 2 --q-heads 8 \
    --kv-heads 2 --context 20000 --budgets 256 --policies adamas --estimators asymmetric --iters 1 >> $O/racecheck.log 2>&1
  echo "racecheck $v rc $?" >> $O/racecheck.log
done
echo "racecheck: $(grep -h 'SUMMARY\|racecheck .* rc' $O/racecheck.log | tr '\n' ' ')"
el racecheck
tar czf $OUT/c4.tgz -C $O .
