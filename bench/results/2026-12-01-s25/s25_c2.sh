#!/usr/bin/env bash
# Session 25, call 2: ADAMAS_STEP_L2 (the grid step asks L2 for the o product's weights once its
# scan is done, or before its attention). The GPU suite (StepL2HintTest, CudaDecoderStepL2 among it),
# memcheck over the new tests, LongChat-7B end to end alternating off / scan / attend, caps, timelines.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
e2e() {  # tag shape contexts l2 [extra args]
  local tag=$1 shape=$2 ctx=$3 mode=$4; shift 4
  ADAMAS_STEP_L2=$mode timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $ctx --shape $shape "$@" > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b c; do for mode in off scan attend; do e2e lc_${mode}_$rep longchat-7b 32768,131072 $mode; done; done 2>&1 | tee $O/e2e.txt
for mb in 8 16; do ADAMAS_STEP_L2_MB=$mb e2e lc_scan${mb} longchat-7b 32768 scan; done 2>&1 | tee -a $O/e2e.txt
el e2e
/tmp/bin/adamas_cuda_tests --gtest_filter='StepL2HintTest.*:CudaDecoderStepL2.*:KernelVariantsTest.*' > $O/new_tests.log 2>&1; tail -3 $O/new_tests.log
compute-sanitizer --tool memcheck /tmp/bin/adamas_cuda_tests --gtest_filter='StepL2HintTest.*:CudaDecoderStepL2.*' > $O/memcheck.log 2>&1
grep -E "ERROR SUMMARY|PASSED|FAILED" $O/memcheck.log | head -3; el new tests
mkdir -p $O/tl
for mode in off scan; do
  ADAMAS_STEP_L2=$mode timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$mode > $O/tl/$mode.log 2>&1
  for f in $O/tl/${mode}_*.jsonl; do echo "== $f"; python3 bench/timeline_summary.py $f 2>&1 | head -9; done
done
el timelines
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -2 $O/checks.log
el checks
tar czf $OUT/c2.tgz -C $O .
