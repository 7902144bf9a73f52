#!/usr/bin/env bash
# Prepared for the next session's first call (not run in session 24): validate and measure
# ADAMAS_STEP_APPEND=chain (README section 3). The GPU suite (CudaDecoderAppendChain.EqualsSideStream
# among it), memcheck over that test, the graph without the append (--graph-split), LongChat-7B and
# Llama-3-8B end to end alternating side / chain, and timelines of both (the norm gaps).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -2 $O/checks.log
compute-sanitizer --tool memcheck /tmp/bin/adamas_cuda_tests --gtest_filter='CudaDecoderAppendChain.*' > $O/memcheck.log 2>&1
grep -E "ERROR SUMMARY|PASSED|FAILED" $O/memcheck.log | head -3; el checks
e2e() {  # tag shape contexts mode [extra args]
  local tag=$1 shape=$2 ctx=$3 mode=$4; shift 4
  ADAMAS_STEP_APPEND=$mode timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $ctx --shape $shape "$@" > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), ' '.join('%s=%.3f' % kv for kv in r['graph_ms_without'].items()))
" 2>&1 | tail -4
}
e2e split_side longchat-7b 32768 side --graph-split | tee $O/e2e.txt
for rep in a b c d; do for mode in side chain; do e2e lc_${mode}_$rep longchat-7b 32768,131072 $mode; done; done 2>&1 | tee -a $O/e2e.txt
for mode in side chain; do e2e l3_$mode llama3-8b 32768,131072 $mode; done 2>&1 | tee -a $O/e2e.txt
el e2e
mkdir -p $O/tl
for mode in side chain; do
  ADAMAS_STEP_APPEND=$mode timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$mode > $O/tl/$mode.log 2>&1
  for f in $O/tl/${mode}_*.jsonl; do echo "== $f"; python3 bench/timeline_summary.py $f 2>&1 | head -9; done
done
el timelines
tar czf $OUT/next.tgz -C $O .
