#!/usr/bin/env bash
# session 8 call 7: the issue-3 benchmark with the cluster step (auto) next to SDPA, the split step in the same
# run, end to end (LongChat-7B, Llama-3-8B: batch 1 and 4; the split step at batch 1), racecheck
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
ITERS=30 timeout 170 bash bench/run_gpu_bench.sh /tmp/bin $O > $O/bench.log 2>&1; echo "bench rc $?"
grep -A30 "^| batch" $O/gpu_bench_*.md | head -34
el bench
for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_STEP=split ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 64,256,1024 --policies adamas --iters 30 >> $O/split_step.jsonl
done; done
for kv in 32 8; do ADAMAS_STEP=split ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 8 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies adamas --iters 20 >> $O/split_step.jsonl; done
python3 -c "
import json
for l in open('/tmp/o/split_step.jsonl'):
  r=json.loads(l); print('split', r['batch'], r['kv_heads'], r['context'], r['budget'], r['total_us'])
"
el split
E="/tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json"
run() { local name=$1 limit=$2; shift 2; timeout "$limit" "$@" > $O/e2e_$name.json 2> $O/e2e_$name.log; echo "$name rc $?"; }
run longchat_b1 90 $E --shape longchat-7b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b1 90 $E --shape llama3-8b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b4 60 $E --shape longchat-7b --batches 4 --contexts 8192,32768,131072 --budgets 256
ADAMAS_STEP=split run longchat_b1_split 60 $E --shape longchat-7b --batches 1 --contexts 32768,131072 --budgets 256
ADAMAS_STEP=split run llama3_b1_split 60 $E --shape llama3-8b --batches 1 --contexts 32768,131072 --budgets 256
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  try: d=json.load(open(f))
  except Exception as e: print(f, 'bad', e); continue
  for r in d['rows']:
    if r.get('skipped'): continue
    print(f.split('/')[-1][4:-5], r['policy'], r.get('batch'), r['context'], r['budget'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'attn', round(r['attention_ms'],3), 'other', round(r['other_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
el e2e
PARTS=racecheck LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "ERROR SUMMARY\|FAILED  \]" $O/checks/racecheck_*.log | sort | uniq -c | head
el racecheck
tar czf $OUT/c7.tgz -C $O .
