#!/usr/bin/env bash
# session 8 call 14: two blocks per SM with a cluster size that fits every row in one wave (ADAMAS_STEP_BLOCKS=auto)
# against three (the previous default): step benchmark, end to end, then the whole GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
for v in auto 3; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP_BLOCKS=$v ADAMAS_BENCH_FLUSH=write timeout 30 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 30 2>>$O/verbose_$v.txt | sed "s/}$/, \"tag\": \"blocks_$v\"}/" >> $O/step_blocks.jsonl
done; done; done
sort $O/verbose_auto.txt | uniq -c
python3 -c "
import json,collections
t=collections.OrderedDict(); tags=[]
for l in open('/tmp/o/step_blocks.jsonl'):
  r=json.loads(l)
  if r['tag'] not in tags: tags.append(r['tag'])
  t.setdefault((r['batch'], r['kv_heads'], r['context']), {})[r['tag']]=r['total_us']
print('batch kv context |', *tags)
for k,v in t.items(): print(*k, '|', *[v.get(x) for x in tags])
"
el bench
for v in auto 3; do
  ADAMAS_STEP_BLOCKS=$v timeout 40 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat_blocks_$v.json 2>/dev/null; echo "e2e $v rc $?"
done
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  d=json.load(open(f))
  for r in d['rows']: print(f.split('/')[-1][4:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'attn', round(r['attention_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
el e2e
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A10 "Failure" $O/checks/tests_*.log | head -30
el suite
tar czf $OUT/c14.tgz -C $O .
