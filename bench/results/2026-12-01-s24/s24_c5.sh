#!/usr/bin/env bash
# session 24 call 5 (nvidia-h200): the grid step launched without the cooperative attribute
# (experiment-only ADAMAS_GRID_COOP=0; the launch still sizes the grid to fit at once): isolated steps
# and end to end, alternating with the committed launch.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
ADAMAS_GRID_COOP=0 timeout 120 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='CudaDecoder*:Steps/StepSkewedSelectionTest.*/grid*:Steps/StepCurrentTokenTest.*:*GridStep*' 2>&1 | tail -2
el tests
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c "import sys,json; print(' '.join('%.2f' % json.loads(l)['total_us'] for l in sys.stdin if l.startswith('{')))"; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 8192 32768 131072; do
  echo "kv$kv $c coop $(step $kv $c) plain $(ADAMAS_GRID_COOP=0 step $kv $c) coop $(step $kv $c) plain $(ADAMAS_GRID_COOP=0 step $kv $c) coop $(step $kv $c) plain $(ADAMAS_GRID_COOP=0 step $kv $c)"
done; done | tee $O/steps.txt
el steps
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b c d; do
  for t in 1 0; do e2e lc_coop${t}_$rep full,adamas longchat-7b 32768 ADAMAS_GRID_COOP=$t; done
done 2>&1 | tee $O/e2e.txt
for t in 1 0; do
  e2e l3_coop$t full,adamas llama3-8b 32768,131072 ADAMAS_GRID_COOP=$t
  e2e lc128_coop$t full,adamas longchat-7b 131072 ADAMAS_GRID_COOP=$t
done 2>&1 | tee -a $O/e2e.txt
el e2e
tar czf $OUT/c5.tgz -C $O .
