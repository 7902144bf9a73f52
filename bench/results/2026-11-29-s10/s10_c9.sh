#!/usr/bin/env bash
# session 10 call 9 (final binaries): asymmetric against L1, MHA and GQA 32/8 at 8K/32K/128K, budget
# 256, L2 flushed, two rounds; the GPU suite; memcheck over two asymmetric test shapes
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
$B --copy-bandwidth > $O/copy.jsonl
for rep in 1 2; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 50 | sed "s/^{/{\"round\": $rep, /" >> $O/asym.jsonl
done; done; done
el bench
cat $O/copy.jsonl
python3 -c "
import json
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]))
"
OMP_NUM_THREADS=1 timeout 200 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 \
  --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv4_b3_n6000:Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q14_kv2_b2_n8193_ties' > $O/memcheck.log 2>&1 &
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
wait
echo "memcheck: $(grep -h 'PASSED\|FAILED\|SUMMARY' $O/memcheck.log | tr '\n' ' ')"
el memcheck
tar czf $OUT/c9.tgz -C $O .
