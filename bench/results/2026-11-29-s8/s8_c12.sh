#!/usr/bin/env bash
# session 8 call 12: the step benchmark again, alone on the GPU (call 11 ran it next to a racecheck process)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
for v in auto cluster split; do for kv in 8 32; do for c in 8192 32768 131072; do
  ADAMAS_STEP=$v ADAMAS_BENCH_FLUSH=write timeout 30 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 30 | sed "s/}$/, \"tag\": \"$v\"}/" >> /tmp/step12.jsonl
done; done; done
python3 -c "
import json,collections
t=collections.OrderedDict(); tags=[]
for l in open('/tmp/step12.jsonl'):
  r=json.loads(l)
  if r['tag'] not in tags: tags.append(r['tag'])
  t.setdefault((r['batch'], r['kv_heads'], r['context']), {})[r['tag']]=r['total_us']
print('batch kv context |', *tags)
for k,v in t.items(): print(*k, '|', *[v.get(x) for x in tags])
"
cp /tmp/step12.jsonl $OUT/
