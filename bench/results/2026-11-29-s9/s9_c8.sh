#!/usr/bin/env bash
# session 9 call 8 (final): the GEMV at 4 blocks per SM with the new split rule (every 7B product 4 ways at
# batch 1), bound/cumulate sharing one helper: the GPU suite, then the end-to-end sweep of
# bench/run_e2e_suite.sh (both shapes, batch 1/4/16, 8K/32K/128K, full and adamas at 64/256/1024)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/e2e
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
B="/tmp/bin/adamas bench-e2e --iterations 5 --policies full,adamas --json"
run() { local name=$1 limit=$2; shift 2; timeout "$limit" $B "$@" > $O/e2e/e2e_$name.json 2> $O/e2e/e2e_$name.log; echo "$name exit $?"; }
run longchat_b1 55 --shape longchat-7b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b1 55 --shape llama3-8b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b4 40 --shape longchat-7b --batches 4 --contexts 8192,32768,131072 --budgets 256
run llama3_b4 45 --shape llama3-8b --batches 4 --contexts 8192,32768,131072 --budgets 256
run longchat_b16 25 --shape longchat-7b --batches 16 --contexts 8192,32768 --budgets 256
run llama3_b16 35 --shape llama3-8b --batches 16 --contexts 8192,32768 --budgets 256
el e2e
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e/e2e_*.json')):
  try: d=json.load(open(f))
  except Exception as e: print(f, 'no json'); continue
  for r in d['rows']:
    if r.get('skipped'): continue
    print(f.split('/')[-1][4:-5], r['policy'], r['budget'], r['context'], r['gemv'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
tar czf $OUT/c8.tgz -C $O .
