#!/usr/bin/env bash
# session 21 call 5 (nvidia-h200): the decode step's norm kernel loads its weights with the row and
# lets the next product start only once its loads have returned (ADAMAS_NORM_TRIGGER=loaded, new
# default; start = as before): end to end A/B on both shapes (two rounds), kernel timelines, the
# timeline test, the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/tl
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
timeout 100 stdbuf -oL /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='KernelTimeline*' > $O/tests.log 2>&1; echo "tests rc $?"; grep -E "^\[  (PASSED|FAILED)|FAILED  \]" $O/tests.log | head
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for shape in longchat-7b llama3-8b; do
  for rep in a b; do
    e2e ${shape}_loaded_$rep full,adamas $shape 32768,131072 ADAMAS_NORM_TRIGGER=loaded
    e2e ${shape}_start_$rep full,adamas $shape 32768,131072 ADAMAS_NORM_TRIGGER=start
  done
  e2e ${shape}_loaded_pdl_share adamas $shape 32768,131072 ADAMAS_STEP_PDL=1 ADAMAS_GRID_SHARE=1
done 2>&1 | tee $O/e2e.txt
el e2e
for n in loaded start; do
  ADAMAS_NORM_TRIGGER=$n timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$n > $O/tl/$n.json 2>&1
done
el timeline
PARTS=tests LIMIT=220 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c5.tgz -C $O .
