#!/usr/bin/env bash
# Session 25, call 5: ADAMAS_NORM_PREFETCH=1 (each norm asks L2 for the next norm's weight) against 0:
# LongChat-7B and Llama-3-8B end to end alternating, timelines (norm durations); GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
e2e() {  # tag shape contexts append [extra args]
  local tag=$1 shape=$2 ctx=$3 ap=$4; shift 4
  ADAMAS_NORM_PREFETCH=$ap timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $ctx --shape $shape "$@" > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b c d; do for ap in 0 1; do e2e lc_${ap}_$rep longchat-7b 32768,131072 $ap; done; done 2>&1 | tee $O/e2e.txt
for ap in 0 1; do e2e l3_$ap llama3-8b 32768,131072 $ap; done 2>&1 | tee -a $O/e2e.txt
el e2e
mkdir -p $O/tl
for mode in 0 1; do
  ADAMAS_NORM_PREFETCH=$mode timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$mode > $O/tl/$mode.log 2>&1
  for f in $O/tl/${mode}_*.jsonl; do echo "== $f"; python3 bench/timeline_summary.py $f 2>&1 | head -10; done
done
el timelines
ADAMAS_NORM_PREFETCH=1 PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -2 $O/checks.log
el checks
tar czf $OUT/c5.tgz -C $O .
