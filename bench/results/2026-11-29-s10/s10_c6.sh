#!/usr/bin/env bash
# session 10 call 6: the fused asymmetric estimates with the parts publishing the row's first-digit
# histogram (twopass: its exact keys' digits, one add per digit and warp) and the last block's third
# digit pass skipped when one key is left: against L1, MHA and GQA 32/8 at 8K/32K/128K, budget 256,
# L2 flushed, twice; probes 3-6 for the tail; then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
$B --copy-bandwidth > $O/copy.jsonl
for rep in 1 2; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 50 | sed "s/^{/{\"probe\": 0, /" >> $O/asym.jsonl
done; done; done
for p in 3 4 5 6; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_ASYM_PROBE=$p ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators asymmetric --iters 50 | sed "s/^{/{\"probe\": $p, /" >> $O/asym.jsonl
done; done; done
el bench
cat $O/copy.jsonl
python3 -c "
import json
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator']), []).append((r['probe'], r['estimate_us']))
for k in sorted(rows): print(k, ' '.join('p%d %.2f' % t for t in rows[k]))
"
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
T=/tmp/bin/adamas_cuda_tests
for tool in racecheck memcheck; do
  OMP_NUM_THREADS=1 timeout 150 compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 \
    --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv4_b3_n6000:Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q14_kv2_b2_n8193_ties' > $O/$tool.log 2>&1 &
done
wait
for tool in racecheck memcheck; do echo "$tool: $(grep -h 'PASSED\|FAILED\|SUMMARY' $O/$tool.log | tr '\n' ' ')"; done
el sanitizers
tar czf $OUT/c6.tgz -C $O .
