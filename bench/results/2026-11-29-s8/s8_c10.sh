#!/usr/bin/env bash
# session 8 call 10: end-to-end rows at batch 4 and 16 with the cluster step (auto), then racecheck over every family
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
E="/tmp/bin/adamas bench-e2e --iterations 5 --policies full,adamas --json --budgets 256"
run() { local name=$1 limit=$2; shift 2; timeout "$limit" "$@" > $O/e2e_$name.json 2> $O/e2e_$name.log; echo "$name rc $?"; }
run longchat_b16 60 $E --shape longchat-7b --batches 16 --contexts 8192,32768,131072
run llama3_b4 60 $E --shape llama3-8b --batches 4 --contexts 8192,32768,131072
run llama3_b16 60 $E --shape llama3-8b --batches 16 --contexts 8192,32768,131072
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  try: d=json.load(open(f))
  except Exception as e: print(f, 'bad', e); continue
  for r in d['rows']:
    if r.get('skipped'): print(f.split('/')[-1][4:-5], 'skipped', r.get('batch'), r.get('context')); continue
    print(f.split('/')[-1][4:-5], r['policy'], r.get('batch'), r['context'], r['budget'], round(r['ms_per_step'],3), 'x', round(r['speedup_vs_full'],3))
"
el e2e
PARTS=racecheck LIMIT=230 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "ERROR SUMMARY\|FAILED  \]" $O/checks/racecheck_*.log | sort | uniq -c | head
grep -L "tests ran\|PASSED\|FAILED" $O/checks/racecheck_*.log | head -3 | xargs -r tail -3
el racecheck
tar czf $OUT/c10.tgz -C $O .
