#!/usr/bin/env bash
# Session 25, call 8: ADAMAS_GEMV_NORM=fused (the q|k|v and gate|up products normalize x themselves,
# blocks looping over the grid's work) against the norm kernels: tests, LongChat-7B / Llama-3-8B end
# to end alternating, a kernel timeline of the fused graph.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
/tmp/bin/adamas_cuda_tests --gtest_filter='Shapes/GemvTest.*:GemvErrors.*:CudaDecoderGemvNorm.*:GemvDecoder.*' > $O/tests.log 2>&1; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $O/tests.log | head -12
ADAMAS_GEMV_NORM=fused /tmp/bin/adamas_cuda_tests --gtest_filter='CudaDecoder*:GemvDecoder.*:CudaGraph*' > $O/tests_fused_default.log 2>&1; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $O/tests_fused_default.log | head -12
el tests
e2e() {  # tag shape contexts mode
  local tag=$1 shape=$2 ctx=$3 mode=$4
  ADAMAS_GEMV_NORM=$mode timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
{
for rep in a b c; do for mode in kernel fused; do e2e lc_${mode}_$rep longchat-7b 32768,131072 $mode; done; done
for mode in kernel fused; do e2e l3_$mode llama3-8b 32768,131072 $mode; done
} 2>&1 | tee $O/e2e.txt
el e2e
mkdir -p $O/tl
ADAMAS_GEMV_NORM=fused timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/fused > $O/tl/fused.log 2>&1
for f in $O/tl/fused_*.jsonl; do python3 bench/timeline_summary.py $f 2>&1 | head -10; done
el timeline
tar czf $OUT/c8.tgz -C $O .
