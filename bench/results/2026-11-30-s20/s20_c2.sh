#!/usr/bin/env bash
# session 20 call 2 (nvidia-h200): the steps' scans warming the K/V pages' translations
# (ADAMAS_STEP_TOUCH=1, the new default) against without (=0): tests, isolated step, end to end,
# and an eager trace end to end. Also: the step timed as a graph replay against plain launches
# (ADAMAS_BENCH_LAUNCH=stream).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=8
B=/tmp/bin/adamas_cuda_bench
timeout 200 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*GridStep*:*ClusterStep*:*StepCurrentToken*:*KernelVariantsTest*:*CudaGraphDecodeTest*' > $O/tests.log 2>&1; grep -E "^\[  (PASSED|FAILED)" $O/tests.log | head
el tests
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for rep in 1 2; do for kv in 32 8; do for c in 32768 131072; do
  echo "rep$rep kv$kv $c touch1 $(step $kv $c) touch0 $(ADAMAS_STEP_TOUCH=0 step $kv $c)"
done; done; done 2>&1 | tee $O/ab.txt
el ab
# graph replay (default) against plain launches queued behind the flush, as SDPA is timed
for rep in 1 2; do for kv in 32 8; do for c in 32768 131072; do
  echo "rep$rep kv$kv $c graph $(step $kv $c) stream $(ADAMAS_BENCH_LAUNCH=stream step $kv $c) full_graph $($B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full | tot) full_stream $(ADAMAS_BENCH_LAUNCH=stream $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full | tot)"
done; done; done 2>&1 | tee $O/launch.txt
el launch
for flush in write read; do
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=$flush $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 > $O/trace_$flush.out 2> $O/trace_$flush.err
done
el trace
e2e() {  # tag policies shape, env...
  local tag=$1 pol=$2 shape=$3; shift 3
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
"
}
for shape in longchat-7b llama3-8b; do
  e2e ${shape}_touch1 full,adamas $shape X=1
  e2e ${shape}_touch0 adamas $shape ADAMAS_STEP_TOUCH=0
  e2e ${shape}_touch1b adamas $shape X=1
done 2>&1 | tee $O/e2e.txt
el e2e
ADAMAS_STEP_TRACE=1 timeout 150 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_trace.json 2>$O/e2e_trace.err
grep -E "attended|merged" $O/e2e_trace.err | head -24
el etrace
tar czf $OUT/c2.tgz -C $O .
