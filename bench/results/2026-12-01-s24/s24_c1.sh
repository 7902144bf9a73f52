#!/usr/bin/env bash
# session 24 call 1 (nvidia-h200): ADAMAS_GRID_SKEW=publish (the ends' distances published, their
# selections sliced over the row's blocks without a second barrier) against spread, in one binary: the
# GPU suite, memcheck over the skewed selections, isolated steps, traces, LongChat-7B end to end.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -5 $O/checks.log; el checks
compute-sanitizer --tool memcheck /tmp/bin/adamas_cuda_tests --gtest_filter='Steps/StepSkewedSelectionTest.*/grid*:Steps/StepCurrentTokenTest.*' > $O/memcheck.log 2>&1
grep -E "ERROR SUMMARY|PASSED|FAILED" $O/memcheck.log | head -5; el memcheck
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c "import sys,json; print(' '.join('%.2f' % json.loads(l)['total_us'] for l in sys.stdin if l.startswith('{')))"; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do
  echo "kv$kv $c publish $(step $kv $c) spread $(ADAMAS_GRID_SKEW=spread step $kv $c) publish $(step $kv $c) spread $(ADAMAS_GRID_SKEW=spread step $kv $c)"
done; done | tee $O/steps.txt
el steps
for v in publish spread; do
  ADAMAS_GRID_SKEW=$v ADAMAS_STEP_TRACE=1 timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_$v.txt 2>&1
  echo "== e2e $v"; sed -n '/grid step trace/,+12p' $O/trace_$v.txt | head -13
done
el traces
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
for rep in a b c; do
  e2e lc_publish_$rep full,adamas longchat-7b 32768 ADAMAS_GRID_SKEW=publish
  e2e lc_spread_$rep full,adamas longchat-7b 32768 ADAMAS_GRID_SKEW=spread
done 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c1.tgz -C $O .
