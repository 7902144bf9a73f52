#!/usr/bin/env bash
# session 22 call 7 (nvidia-h200): the spread path with the list as cache rows, converted and their K/V
# asked of L2 by each part's owner before the second barrier. ADAMAS_GRID_SKEW off / window / spread side by
# side (with ADAMAS_STEP_PDL=0, as call 3, and with the default auto), the isolated step, the trace end to
# end, memcheck over the skewed selections, the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do echo "kv$kv $c $(step $kv $c) $(step $kv $c)"; done; done | tee $O/steps.txt
el steps
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b; do
  e2e lc_full_$rep full longchat-7b 32768,131072 X=1
  for m in off window spread; do e2e lc_${m}_pdl0_$rep adamas longchat-7b 32768 ADAMAS_GRID_SKEW=$m ADAMAS_STEP_PDL=0; done
  e2e lc_spread_$rep adamas longchat-7b 32768,131072 X=1
done 2>&1 | tee $O/e2e.txt
e2e l3 full,adamas llama3-8b 32768,131072 X=1 | tee -a $O/e2e.txt
el e2e
ADAMAS_STEP_TRACE=1 timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace.txt 2>&1
sed -n '/grid step trace/,+22p' $O/trace.txt | head -23
el trace
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='Steps/StepSkewedSelectionTest.*/grid*' > $O/memcheck_skewed.log 2>&1; echo "memcheck rc $?"; grep -E "^\[  PASSED|^\[  FAILED|ERROR SUMMARY" $O/memcheck_skewed.log | head -4
el memcheck
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c7.tgz -C $O .
