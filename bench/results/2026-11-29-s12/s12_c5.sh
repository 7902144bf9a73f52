#!/usr/bin/env bash
# session 12 call 5: blocks of 16384 for one head a row where that makes one wave (MHA 128K), plain
# launches without a cluster attribute when not clustered; asymmetric against L1 at every shape
# (3 rounds), MHA 128K with 8192 per block beside it, probes, suite, memcheck
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
    run $kv $c l1,asymmetric | sed "s/^{/{\"round\": $rep, \"part\": \"auto\", /" >> $O/asym.jsonl
  done; done
  ADAMAS_ASYM_PART=8192 run 32 131072 asymmetric | sed "s/^{/{\"round\": $rep, \"part\": \"8192\", /" >> $O/asym.jsonl
done
el bench
for p in 2 3 4 5 6; do for part in auto 8192; do
  ADAMAS_ASYM_PART=$part ADAMAS_ASYM_PROBE=$p run 32 131072 asymmetric | sed "s/^{/{\"probe\": $p, \"part\": \"$part\", /" >> $O/probes.jsonl
done; done
el probes
cat $O/copy.jsonl
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator'], r['part']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]), ' median %.2f' % st.median(rows[k]))
pr={}
for l in open('/tmp/o/probes.jsonl'):
  r=json.loads(l)
  if 'policy' in r: pr.setdefault(r['part'], {})[r['probe']] = r['estimate_us']
for k in sorted(pr): print('probes MHA 128K part', k, ' '.join('%d:%.2f' % (p, t) for p, t in sorted(pr[k].items())))
PY
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
OMP_NUM_THREADS=1 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 \
  --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv4_b3_n6000:AsymmetricPartTest.*' > $O/memcheck.log 2>&1
echo "memcheck: $(grep -h 'PASSED\|FAILED\|SUMMARY' $O/memcheck.log | tr '\n' ' ')"
el memcheck
tar czf $OUT/c5.tgz -C $O .
