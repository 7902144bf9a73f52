#!/usr/bin/env bash
# session 14 call 4 (measurement only): where the LongChat-7B 32K decode step's time goes in graph
# replay (nsys, per kernel and the gaps between kernels), full and adamas; the step with the L2
# emptied by a read instead of a write
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
A=/tmp/bin/adamas; B=/tmp/bin/adamas_cuda_bench
which nsys
for fl in write read; do for c in 32768 131072; do
  ADAMAS_BENCH_FLUSH=$fl timeout 40 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 --iters 50 | grep total | sed "s/^{/{\"flushenv\": \"$fl\", /" >> $O/flush.jsonl
  ADAMAS_STEP_PROBE=1 ADAMAS_BENCH_FLUSH=$fl timeout 40 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 --iters 50 | grep total | sed "s/^{/{\"flushenv\": \"$fl\", \"probe\": 1, /" >> $O/flush.jsonl
done; done
python3 -c "
import json
for l in open('/tmp/o/flush.jsonl'):
  r=json.loads(l); print(r['flushenv'], r.get('probe',0), r['context'], 'est', r['estimate_us'], 'total', r['total_us'], r['step'])
"
el flush
for pol in adamas full; do
  timeout 150 nsys profile --cuda-graph-trace=node -o $O/e2e_$pol --force-overwrite true $A bench-e2e --iterations 20 --json --budgets 256 --batches 1 --shape longchat-7b --policies $pol --contexts 32768 > /dev/null 2> $O/nsys_$pol.log; echo "nsys $pol rc $?"
  timeout 100 nsys stats --report cuda_gpu_kern_sum --format csv $O/e2e_$pol.nsys-rep > $O/kern_sum_$pol.csv 2>/dev/null; echo "sum rc $?"
  timeout 100 nsys stats --report cuda_gpu_trace --format csv $O/e2e_$pol.nsys-rep > $O/trace_$pol.csv 2>/dev/null; echo "trace rc $?"
  ls -la $O/trace_$pol.csv
  xz -k -T4 $O/trace_$pol.csv
done
el nsys
rm -f $O/*.nsys-rep $O/*.sqlite $O/trace_*.csv
tar czf $OUT/c4.tgz -C $O .
