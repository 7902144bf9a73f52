#!/usr/bin/env bash
# session 23 call 11 (nvidia-h200), the library as committed (the merges' weights by MUFU.EX2 alone too):
# the table of record, end to end, memcheck over the current-token and skewed-selection steps, the GPU
# suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md | head -24
el table
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
for rep in a b; do e2e lc_$rep full,adamas longchat-7b 32768,131072 X=1; done 2>&1 | tee $O/e2e.txt
e2e l3 full,adamas llama3-8b 32768,131072 X=1 2>&1 | tee -a $O/e2e.txt
el e2e
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/bin/adamas_cuda_tests --gtest_brief=1 \
  --gtest_filter='Steps/StepSkewedSelectionTest.*/grid*:Steps/StepCurrentTokenTest.*' > $O/memcheck.log 2>&1; echo "memcheck rc $?"
grep -E "^\[  PASSED|^\[  FAILED|ERROR SUMMARY" $O/memcheck.log | head -4
el memcheck
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
rm -rf $O/checks
el suite
tar czf $OUT/c11.tgz -C $O .
