#!/usr/bin/env bash
# session 13 call 1: the grid step (grid_step.cu: one block per SM, cp.async rings per warp, rows
# meeting through global memory) against the cluster step (auto): correctness first, then the
# step at MHA / GQA 8K-128K (write and read flush), probe 1 (scan only), SDPA, end to end, suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
$B --copy-bandwidth > $O/copy.jsonl; cat $O/copy.jsonl
ADAMAS_STEP=grid ADAMAS_STEP_VERBOSE=1 timeout 30 $B --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --iters 5 2>&1 | tail -3
echo "smoke rc $?"
OMP_NUM_THREADS=8 timeout 120 $T --gtest_brief=1 --gtest_filter='Shapes/GridStepTest.*:Shapes/GridStepProgrammaticTest.*' > $O/grid_tests.log 2>&1
echo "grid tests rc $?"; grep -E "PASSED|FAILED|tests ran" $O/grid_tests.log | head; grep -h -A8 "Failure" $O/grid_tests.log | head -30
el grid-tests
run() { timeout 40 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 --iters 50; }
for rep in 1 2; do for step in auto grid; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write ADAMAS_STEP=$step run $kv $c | sed "s/^{/{\"round\": $rep, /" >> $O/step.jsonl
done; done; done; done
for step in auto grid; do for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_BENCH_FLUSH=read ADAMAS_STEP=$step run $kv $c >> $O/step_read.jsonl
  ADAMAS_BENCH_FLUSH=write ADAMAS_STEP_PROBE=1 ADAMAS_STEP=$step run $kv $c >> $O/probe1.jsonl
done; done; done
el bench
python3 - <<'PY'
import json
for f in ['step','step_read','probe1']:
  for l in open('/tmp/o/%s.jsonl' % f):
    r=json.loads(l)
    if 'policy' not in r: continue
    print(f, r.get('round',''), r['step'], r['kv_heads'], r['context'], 'total %.2f' % r['total_us'], 'est %.2f' % r['estimate_us'], r['flush'])
PY
for c in 32768 131072; do for kv in 32 8; do
  ADAMAS_BENCH_FLUSH=write timeout 40 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --iters 50 >> $O/sdpa_in.jsonl
  ADAMAS_BENCH_FLUSH=write ADAMAS_STEP=grid run $kv $c >> $O/sdpa_in.jsonl
done; done
timeout 150 python3 bench/sdpa_baseline.py --adamas $O/sdpa_in.jsonl --command "s13_c1.sh (ADAMAS_STEP=grid)" --out $O/grid_vs_sdpa.md | tail -12
el sdpa
for step in auto grid; do
  ADAMAS_STEP=$step timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat_$step.json 2>$O/e2e_$step.err; echo "e2e $step rc $?"
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_longchat_$step.json'))
for r in d['rows']: print('$step', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attn %.3f' % r['attention_ms'])
" 2>&1 | tail -4
done
el e2e
tar czf $OUT/c1.tgz -C $O .
