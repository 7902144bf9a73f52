#!/usr/bin/env bash
# session 13 call 7: where the grid step (4 blocks per SM at one head a row) overtakes the cluster
# step: MHA 32/32 at 48K, 64K, 96K, 128K, batch 1 and 2 (per-query-head rows are the same shape),
# 3 rounds each, same process per pair
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
for rep in 1 2 3; do for b in 1 2; do for c in 49152 65536 98304 131072; do for step in auto grid; do
  ADAMAS_STEP=$step timeout 40 $B --batch $b --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 50 | sed "s/^{/{\"round\": $rep, /" >> $O/crossover.jsonl
done; done; done; done
el bench
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/crossover.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['batch'], r['context'], r['step']), []).append(r['total_us'])
for (b, c, s) in sorted(rows):
  if s != 'auto': continue
  a, g = st.median(rows[(b, c, 'auto')]), st.median(rows[(b, c, 'grid')])
  print('batch %d context %6d  cluster/auto %7.2f  grid %7.2f  grid/auto %.3f' % (b, c, a, g, g / a))
PY
tar czf $OUT/c7.tgz -C $O .
