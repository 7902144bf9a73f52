#!/usr/bin/env bash
# session 9 call 5: the block's bound from its cumulative histogram (a one-round span never updated it: 8K
# slower in calls 2-4), kStepMaxSpan 20480 (the decoder's max_context = context + 64 put 128K past 16384
# per block, so the end-to-end step took the split path). Step benchmark, phase stamps, end to end, suite
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
  r=json.loads(l); print('step', r['batch'], r['kv_heads'], r['context'], r['budget'], r['total_us'], r.get('step'))
"
for c in 8192 32768 131072; do
  echo "== kv 32 context $c" >> $O/trace.txt
  ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 5 2>> $O/trace.txt >/dev/null
done
grep -v "adamas step: d" $O/trace.txt; grep "adamas step: d" $O/trace.txt | sort | uniq -c
el bench
E="/tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072"
ADAMAS_STEP_VERBOSE=1 timeout 100 $E --shape longchat-7b > $O/e2e_longchat.json 2>$O/e2e_longchat.log; echo "e2e rc $?"
grep "adamas step: d" $O/e2e_longchat.log | sort | uniq -c
timeout 100 $E --shape llama3-8b > $O/e2e_llama3.json 2>/dev/null; echo "e2e rc $?"
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  d=json.load(open(f))
  for r in d['rows']: print(f.split('/')[-1][4:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'attn', round(r['attention_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
el e2e
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -60
el suite
tar czf $OUT/c5.tgz -C $O .
