#!/usr/bin/env bash
# session 9 call 2: the cluster step's phase 2 rewritten (warp-redundant threshold from cumulative histograms,
# ballot compaction, span page ids kept for the attention): step benchmark, phase stamps, end to end, GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 64,256,1024 --policies adamas --iters 30 >> $O/step.jsonl
done; done
python3 -c "
import json
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l); print('step', r['batch'], r['kv_heads'], r['context'], r['budget'], r['total_us'])
"
for c in 32768 131072; do
  echo "== kv 32 context $c" >> $O/trace.txt
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 5 2>> $O/trace.txt >/dev/null
done
cat $O/trace.txt
el bench
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
tar czf $OUT/c2.tgz -C $O .
