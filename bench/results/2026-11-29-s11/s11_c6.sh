#!/usr/bin/env bash
# session 11 call 6 (final binaries): the closing block staged in shared memory (two entries per
# load), digits from bit 31, list length from the ticket, chunk counts in the last visit; two-pass
# kernel as in the tenth session; asymmetric against L1, probes, the step diagnostics through
# KernelVariants, the GPU suite, memcheck over two asymmetric shapes
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
$B --copy-bandwidth > $O/copy.jsonl
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators $3 --iters 50; }
for rep in 1 2 3; do for kv in 32 8; do for c in 8192 32768 131072; do
  run $kv $c l1,asymmetric | sed "s/^{/{\"round\": $rep, /" >> $O/asym.jsonl
done; done; done
el bench
for p in 2 3 4 5 6; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_ASYM_PROBE=$p run $kv $c asymmetric | sed "s/^{/{\"probe\": $p, /" >> $O/probes.jsonl
done; done; done
el probes
ADAMAS_STEP_TRACE=1 ADAMAS_STEP_VERBOSE=1 run 32 32768 l1 > $O/step_trace.jsonl 2> $O/step_trace.txt; echo "trace rc $? $(wc -l < $O/step_trace.txt) lines"; head -4 $O/step_trace.txt
ADAMAS_STEP_PROBE=1 run 32 32768 l1 | grep -o '"total_us": [0-9.]*'
ADAMAS_STEP_PROBE=7 run 32 32768 l1 2>&1 | tail -1
cat $O/copy.jsonl
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]), ' median %.2f' % st.median(rows[k]))
for l in open('/tmp/o/probes.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print('probe', r['probe'], r['kv_heads'], r['context'], '%.2f' % r['estimate_us'])
PY
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
OMP_NUM_THREADS=1 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 \
  --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv4_b3_n6000:Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q14_kv2_b2_n8193_ties' > $O/memcheck.log 2>&1
echo "memcheck: $(grep -h 'PASSED\|FAILED\|SUMMARY' $O/memcheck.log | tr '\n' ' ')"
el memcheck
tar czf $OUT/c6.tgz -C $O .
