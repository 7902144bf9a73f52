#!/usr/bin/env bash
# session 19 call 7 (nvidia-h200): the grid step under programmatic launch with its wait after the
# set-up (page ids and first codes before the wait, q after): its tests, then end to end with
# ADAMAS_PDL=1, with and without the cooperative attribute (ADAMAS_GRID_COOP=0, temporary).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
T=/tmp/bin/adamas_cuda_tests
export OMP_NUM_THREADS=4
ADAMAS_PDL=1 timeout 200 $T --gtest_brief=1 --gtest_filter='*GridStepProgrammaticTest*:*CudaDecoderTest*:*CudaGraphDecodeTest*' > $O/tests_pdl.log 2>&1; grep -E "^\[  (PASSED|FAILED)" $O/tests_pdl.log | head
ADAMAS_PDL=1 ADAMAS_GRID_COOP=0 timeout 200 $T --gtest_brief=1 --gtest_filter='*CudaDecoderTest*:*CudaGraphDecodeTest*:*StepCurrentToken*' > $O/tests_pdl_nocoop.log 2>&1; grep -E "^\[  (PASSED|FAILED)" $O/tests_pdl_nocoop.log | head
el tests
e2e() {  # tag env...
  local tag=$1; shift
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"
}
for rep in 1 2; do
e2e default$rep X=1 | tee -a $O/e2e.txt
e2e pdl$rep ADAMAS_PDL=1 | tee -a $O/e2e.txt
e2e pdl_nocoop$rep ADAMAS_PDL=1 ADAMAS_GRID_COOP=0 | tee -a $O/e2e.txt
done
el e2e
tar czf $OUT/c7.tgz -C $O .
