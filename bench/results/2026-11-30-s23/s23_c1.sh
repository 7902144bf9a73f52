#!/usr/bin/env bash
# session 23 call 1 (nvidia-h200): the norms' weights loaded evict-last (ADAMAS_NORM_KEEP=1) against
# plain loads (0), end to end, alternating; a kernel timeline of each.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/tl
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
for rep in a b; do
  e2e lc_keep0_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_KEEP=0
  e2e lc_keep1_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_KEEP=1
done 2>&1 | tee $O/e2e.txt
e2e lc128_keep0 full,adamas longchat-7b 131072 ADAMAS_NORM_KEEP=0 2>&1 | tee -a $O/e2e.txt
e2e lc128_keep1 full,adamas longchat-7b 131072 ADAMAS_NORM_KEEP=1 2>&1 | tee -a $O/e2e.txt
e2e l3_keep0 full,adamas llama3-8b 32768 ADAMAS_NORM_KEEP=0 2>&1 | tee -a $O/e2e.txt
e2e l3_keep1 full,adamas llama3-8b 32768 ADAMAS_NORM_KEEP=1 2>&1 | tee -a $O/e2e.txt
el e2e
for k in 0 1; do
  ADAMAS_NORM_KEEP=$k timeout 150 /tmp/bin/adamas bench-e2e --iterations 3 --policies full,adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/keep$k > $O/tl/keep$k.log 2>&1
  for f in $O/tl/keep${k}_*.jsonl; do python3 bench/timeline_summary.py $f 2>&1 | head -12; done
done
el timeline
tar czf $OUT/c1.tgz -C $O .
