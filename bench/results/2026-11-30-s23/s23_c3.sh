#!/usr/bin/env bash
# session 23 call 3 (nvidia-h200): the norms folded into the products (ADAMAS_NORM_FOLD=1) against the
# norm kernels (0), the consumers reading the sums through L1 (__ldg): end to end alternating, a timeline.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/tl
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
# tests skipped: call 2 ran them

el tests
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
for rep in a b; do
  e2e lc_fold0_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_FOLD=0
  e2e lc_fold1_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_FOLD=1
done 2>&1 | tee $O/e2e.txt

el e2e
timeout 150 /tmp/bin/adamas bench-e2e --iterations 3 --policies full,adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/fold1 > $O/tl/fold1.log 2>&1
for f in $O/tl/fold1_*.jsonl; do python3 bench/timeline_summary.py $f 2>&1 | head -12; done
el timeline
tar czf $OUT/c3.tgz -C $O .
