#!/usr/bin/env bash
# session 24 call 4 (nvidia-h200): where the grid step lets the o product launch, an experiment-only
# switch ADAMAS_STEP_TRIGGER: start (committed: every block at its start), merge (the row's last
# block, before merge_partials; the others by leaving), end (after merge_partials). End to end
# alternating, timelines, and the eager trace.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
for t in merge end; do
  ADAMAS_STEP_TRIGGER=$t /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='CudaDecoder*:Steps/StepSkewedSelectionTest.*/grid*:Steps/StepCurrentTokenTest.*' 2>&1 | tail -2 | sed "s/^/[$t] /"
done
el tests
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b c d; do
  for t in start merge end; do e2e lc_${t}_$rep full,adamas longchat-7b 32768 ADAMAS_STEP_TRIGGER=$t; done
done 2>&1 | tee $O/e2e.txt
for t in start merge end; do
  e2e l3_$t full,adamas llama3-8b 32768,131072 ADAMAS_STEP_TRIGGER=$t
  e2e lc128_$t full,adamas longchat-7b 131072 ADAMAS_STEP_TRIGGER=$t
done 2>&1 | tee -a $O/e2e.txt
el e2e
mkdir -p $O/tl
for t in start merge end; do
  ADAMAS_STEP_TRIGGER=$t timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$t > $O/tl/$t.log 2>&1
  for f in $O/tl/${t}_*.jsonl; do echo "== $f"; python3 bench/timeline_summary.py $f 2>&1 | head -8; done
done
el timelines
tar czf $OUT/c4.tgz -C $O .
