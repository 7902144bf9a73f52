#!/usr/bin/env bash
# session 19 call 9 (nvidia-h200), the library as committed (ADAMAS_STEP_PDL back to 0 by default):
# the tests of the changed pieces, then end to end with the defaults.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=8
T=/tmp/bin/adamas_cuda_tests
timeout 250 $T --gtest_brief=1 --gtest_filter='*StepProgrammaticTest*:*KernelVariantsTest*:*StepCurrentToken*:*CudaDecoderTest*:*CudaGraphDecodeTest*:*GridStepAutoTest*' > $O/tests.log 2>&1; grep -E "^\[  (PASSED|FAILED)" $O/tests.log | head
el tests
for shape in longchat-7b llama3-8b; do
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
done | tee $O/e2e.txt
el e2e
tar czf $OUT/c9.tgz -C $O .
