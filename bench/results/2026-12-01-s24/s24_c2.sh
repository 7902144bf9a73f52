#!/usr/bin/env bash
# session 24 call 2 (nvidia-h200): the RMSNorm's launch, experiment-only switches: ADAMAS_NORM_SMEM
# (bytes of dynamic shared memory reserved, so that no product block shares the norm's SM) and
# ADAMAS_NORM_PDL=1 (the norm launched programmatically, its weight read before the wait).
# End to end alternating, kernel timelines, the decoder's GPU tests under each.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
S=232448
for v in "X=1" "ADAMAS_NORM_SMEM=$S" "ADAMAS_NORM_PDL=1" "ADAMAS_NORM_SMEM=$S ADAMAS_NORM_PDL=1"; do
  env $v /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='CudaDecoder*' 2>&1 | tail -2 | sed "s/^/[$v] /"
done
el tests
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b c d; do
  e2e lc_base_$rep full,adamas longchat-7b 32768 X=1
  e2e lc_smem_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_SMEM=$S
  e2e lc_pdl_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_PDL=1
  e2e lc_both_$rep full,adamas longchat-7b 32768 ADAMAS_NORM_SMEM=$S ADAMAS_NORM_PDL=1
done 2>&1 | tee $O/e2e.txt
for v in base smem pdl both; do
  case $v in base) E="X=1";; smem) E="ADAMAS_NORM_SMEM=$S";; pdl) E="ADAMAS_NORM_PDL=1";; both) E="ADAMAS_NORM_SMEM=$S ADAMAS_NORM_PDL=1";; esac
  e2e l3_$v full,adamas llama3-8b 32768,131072 $E
  e2e lc128_$v full,adamas longchat-7b 131072 $E
done 2>&1 | tee -a $O/e2e.txt
el e2e
mkdir -p $O/tl
for v in base smem pdl both; do
  case $v in base) E="X=1";; smem) E="ADAMAS_NORM_SMEM=$S";; pdl) E="ADAMAS_NORM_PDL=1";; both) E="ADAMAS_NORM_SMEM=$S ADAMAS_NORM_PDL=1";; esac
  env $E timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies full,adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$v > $O/tl/$v.log 2>&1
  for f in $O/tl/${v}_*.jsonl; do echo "== $f"; python3 bench/timeline_summary.py $f 2>&1 | head -14; done
done
el timelines
tar czf $OUT/c2.tgz -C $O .
