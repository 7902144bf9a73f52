#!/usr/bin/env bash
# session 20 call 4 (nvidia-h200): the grid step sharing a row's attention out (share_attention):
# tests, the isolated step, LongChat-7B / Llama-3-8B end to end, and an eager trace end to end
# (attention by rank).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=8
B=/tmp/bin/adamas_cuda_bench
timeout 250 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*StepSkewedSelection*:*GridStep*:*StepCurrentToken*:*StepTrace*:*GridBlocks*:*CudaGraphDecodeTest*' > $O/tests.log 2>&1; grep -E "^\[  (PASSED|FAILED)|FAILED  \]" $O/tests.log | head -20
el tests
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 8192 32768 131072; do echo "kv$kv $c $(step $kv $c) $(step $kv $c)"; done; done | tee $O/steps.txt
el steps
e2e() {  # tag policies shape, env...
  local tag=$1 pol=$2 shape=$3; shift 3
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
}
for shape in longchat-7b llama3-8b; do e2e $shape full,adamas $shape X=1; done 2>&1 | tee $O/e2e.txt
el e2e
ADAMAS_STEP_TRACE=1 timeout 150 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_trace.json 2>$O/e2e_trace.err
grep -E "attention of rank|merged" $O/e2e_trace.err | head -27
el etrace
tar czf $OUT/c4.tgz -C $O .
