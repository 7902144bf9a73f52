#!/usr/bin/env bash
# session 21 call 3 (nvidia-h200): the kernel timeline of one graph replay end to end (bench-e2e
# --timeline, CUPTI): LongChat-7B and Llama-3-8B at 32K, full and Adamas, with the step launched
# plainly and programmatically (ADAMAS_STEP_PDL=1, with and without ADAMAS_GRID_SHARE=1); its tests.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/tl
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
timeout 100 stdbuf -oL /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='KernelTimeline*' > $O/tests.log 2>&1; echo "tests rc $?"; grep -E "^\[  (PASSED|FAILED)|FAILED  \]|Skipped|skipped" $O/tests.log | head
el tests
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape --timeline $O/tl/$tag > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
e2e lc full,adamas longchat-7b 32768 ADAMAS_STEP_PDL=0
e2e lc_pdl adamas longchat-7b 32768 ADAMAS_STEP_PDL=1
e2e lc_pdl_share adamas longchat-7b 32768 ADAMAS_STEP_PDL=1 ADAMAS_GRID_SHARE=1
e2e lc128 adamas longchat-7b 131072 ADAMAS_STEP_PDL=0
e2e ll full,adamas llama3-8b 32768 ADAMAS_STEP_PDL=0
e2e ll_pdl adamas llama3-8b 32768 ADAMAS_STEP_PDL=1
e2e ll_pdl_share adamas llama3-8b 32768 ADAMAS_STEP_PDL=1 ADAMAS_GRID_SHARE=1
el e2e
ls $O/tl | head -20
tar czf $OUT/c3.tgz -C $O .
