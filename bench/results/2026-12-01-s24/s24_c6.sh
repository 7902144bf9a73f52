#!/usr/bin/env bash
# session 24 call 6 (nvidia-h200): the o product's split of `in` (experiment-only ADAMAS_GEMV_SPLIT_O:
# auto = 4 slices, 1024 blocks, two waves; 2 = 512 blocks, one wave, two rounds of loads a warp;
# 1 = 256 blocks, four rounds). End to end alternating, timelines; the GEMV and decoder tests under each.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
for t in 1 2; do
  ADAMAS_GEMV_SPLIT_O=$t timeout 100 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*Gemv*:CudaDecoder*' 2>&1 | tail -2 | sed "s/^/[o split $t] /"
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
  for t in 0 2 1; do e2e lc_o${t}_$rep full,adamas longchat-7b 32768 ADAMAS_GEMV_SPLIT_O=$t; done
done 2>&1 | tee $O/e2e.txt
for t in 0 2 1; do
  e2e l3_o$t full,adamas llama3-8b 32768,131072 ADAMAS_GEMV_SPLIT_O=$t
  e2e lc128_o$t full,adamas longchat-7b 131072 ADAMAS_GEMV_SPLIT_O=$t
done 2>&1 | tee -a $O/e2e.txt
el e2e
mkdir -p $O/tl
for t in 0 2 1; do
  ADAMAS_GEMV_SPLIT_O=$t timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies full,adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/o$t > $O/tl/o$t.log 2>&1
  for f in $O/tl/o${t}_*.jsonl; do echo "== $f"; python3 bench/timeline_summary.py $f 2>&1 | head -7; done
done
el timelines
tar czf $OUT/c6.tgz -C $O .
