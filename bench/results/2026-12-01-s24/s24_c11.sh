#!/usr/bin/env bash
# session 24 call 11 (nvidia-h200): the step graph without each part (bench-e2e --graph-split), to see
# what the sparse layers' side-stream cache append costs the graph beyond its own time.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
for rep in a b; do
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --graph-split > $O/split_$rep.json 2> $O/split_$rep.err
  python3 -c "
import json; d=json.load(open('$O/split_$rep.json'))
for r in d['rows']: print('$rep', r['policy'], '%.3f' % r['ms_per_step'], ' '.join('%s=%.3f' % (k, v) for k, v in r['graph_ms_without'].items()))
"
done
tar czf $OUT/c11.tgz -C $O .
