#!/usr/bin/env bash
# session 9 call 4: census and span page ids removed (no gain; the page store sat before the next round's
# loads); the new phase 2 alone. Full GPU benchmark next to SDPA, phase stamps, the scan alone
# (ADAMAS_STEP_PROBE=1), dense attention's splits per head, end to end, GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
for c in 32768 131072; do
  echo "== kv 32 context $c" >> $O/trace.txt
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 5 2>> $O/trace.txt >/dev/null
done
cat $O/trace.txt
for p in 1 0; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_STEP=cluster ADAMAS_STEP_PROBE=$p ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 30 | sed "s/}$/, \"tag\": \"probe$p\"}/" >> $O/probe.jsonl
done; done; done
python3 -c "
import json
for l in open('/tmp/o/probe.jsonl'):
  r=json.loads(l); print(r['tag'], 'cluster', r['kv_heads'], r['context'], r['total_us'], 'code MB', round(32*r['context']*r['kv_heads']*128/4/1e6,1), 'GB/s', round(r['context']*r['kv_heads']*32/r['total_us']/1e3))
"
for sp in 4 8 16 32 64; do for c in 32768 131072; do
  ADAMAS_DENSE_SPLITS=$sp ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --policies full --iters 30 | sed "s/}$/, \"tag\": \"splits$sp\"}/" >> $O/dense_splits.jsonl
done; done
python3 -c "
import json
for l in open('/tmp/o/dense_splits.jsonl'):
  r=json.loads(l); print(r['tag'], r['context'], r['total_us'])
"
el probes
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/gpu > $O/gpu_bench.log 2>&1; echo "gpu bench rc $?"
cat $O/gpu/gpu_bench_*.md | head -80
el gpu_bench
timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat.json 2>/dev/null; echo "e2e rc $?"
python3 -c "
import json
d=json.load(open('/tmp/o/e2e_longchat.json'))
for r in d['rows']: print(r['policy'], r['context'], round(r['ms_per_step'],3), 'x', round(r['speedup_vs_full'],3))
"
el e2e
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -60
el suite
tar czf $OUT/c4.tgz -C $O .
