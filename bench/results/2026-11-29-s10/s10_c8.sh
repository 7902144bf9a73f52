#!/usr/bin/env bash
# session 10 call 8 (final asymmetric code): the closing block's histograms with one shared add per
# digit and warp (ADAMAS_ASYM_AGGREGATE=1, default) or per entry (0), with the third digit pass skipped
# when one key is left; against L1, MHA and GQA 32/8 at 8K/32K/128K, budget 256, L2 flushed, two
# rounds; probes 5/6; then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
$B --copy-bandwidth > $O/copy.jsonl
for rep in 1 2; do for g in 0 1; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_ASYM_AGGREGATE=$g ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 50 | sed "s/^{/{\"tail\": \"agg$g\", /" >> $O/asym.jsonl
done; done; done; done
for p in 5 6; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_ASYM_PROBE=$p ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators asymmetric --iters 50 | sed "s/^{/{\"tail\": \"probe$p\", /" >> $O/asym.jsonl
done; done; done
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
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
tar czf $OUT/c8.tgz -C $O .
