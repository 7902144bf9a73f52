#!/usr/bin/env bash
# session 10 call 4: the fused asymmetric estimates with the parts publishing the row's first-digit
# histogram (the closing block no longer builds it from the list with shared atomics), against L1;
# probes 2/3 again for the tail; MHA and GQA 32/8 at 8K, 32K and 128K, budget 256, L2 flushed; the suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
$B --copy-bandwidth > $O/copy.jsonl
run() {  # tag env...
  local tag=$1; shift
  for kv in 32 8; do for c in 8192 32768 131072; do
    env "$@" ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 50 | sed "s/^{/{\"tag\": \"$tag\", /" >> $O/asym.jsonl
  done; done
}
run published1 ADAMAS_ASYM_PROBE=0
run probe3 ADAMAS_ASYM_PROBE=3
run published2 ADAMAS_ASYM_PROBE=0
el bench
cat $O/copy.jsonl
python3 -c "
import json
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator']), []).append((r['tag'], r['estimate_us']))
for k in sorted(rows): print(k, ' '.join('%s %.2f' % t for t in rows[k]))
"
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c4.tgz -C $O .
