#!/usr/bin/env bash
# session 9 call 3: span page ids stored where the codes wait on them (call 2's store stalled every round),
# spans balanced by a census of the step's blocks per SM (ADAMAS_STEP_SPANS=load) against equal spans:
# step benchmark, phase stamps, end to end; then the GPU suite with the new ClusterSpansTest
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
for sp in load equal; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_STEP_SPANS=$sp ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 30 | sed "s/}$/, \"tag\": \"$sp\"}/" >> $O/step.jsonl
done; done; done
ADAMAS_STEP=cluster ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 8 --context 131072 --budgets 256 --policies adamas --iters 30 | sed "s/}$/, \"tag\": \"load_forced_cluster\"}/" >> $O/step.jsonl
python3 -c "
import json,collections
t=collections.OrderedDict(); tags=[]
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l)
  if r['tag'] not in tags: tags.append(r['tag'])
  t.setdefault((r['batch'], r['kv_heads'], r['context']), {})[r['tag']]=r['total_us']
print('batch kv context |', *tags)
for k,v in t.items(): print(*k, '|', *[v.get(x) for x in tags])
"
for sp in load equal; do for c in 32768 131072; do
  echo "== spans $sp kv 32 context $c" >> $O/trace.txt
  ADAMAS_STEP_SPANS=$sp ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 5 2>> $O/trace.txt >/dev/null
done; done
cat $O/trace.txt
el bench
for sp in load equal; do
  ADAMAS_STEP_SPANS=$sp timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat_$sp.json 2>/dev/null; echo "e2e $sp rc $?"
done
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  d=json.load(open(f))
  for r in d['rows']: print(f.split('/')[-1][4:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'x', round(r['speedup_vs_full'],3))
"
el e2e
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -60
el suite
tar czf $OUT/c3.tgz -C $O .
