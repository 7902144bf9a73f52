#!/usr/bin/env bash
# session 13 call 2: the grid step at 3 blocks per SM (2 with heads x d > 256), a block-wide running
# bound, one token a lane per stage; step against the cluster step (auto), probes, end to end,
# then the whole GPU suite (the cluster step now runs the shared phases of step_phases.cuh)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
for kv in 32 8; do ADAMAS_STEP=grid ADAMAS_STEP_VERBOSE=1 timeout 30 $B --batch 1 --q-heads 32 --kv-heads $kv --context 131072 --budgets 256 --policies adamas --iters 3 2>&1 | grep "grid step" | head -1; done
run() { timeout 40 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 --iters 50; }
for rep in 1 2; do for step in auto grid; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write ADAMAS_STEP=$step run $kv $c | sed "s/^{/{\"round\": $rep, /" >> $O/step.jsonl
done; done; done; done
for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_BENCH_FLUSH=write ADAMAS_STEP_PROBE=1 ADAMAS_STEP=grid run $kv $c >> $O/probe1.jsonl
  ADAMAS_BENCH_FLUSH=read ADAMAS_STEP=grid run $kv $c >> $O/step_read.jsonl
done; done
ADAMAS_BENCH_FLUSH=write ADAMAS_STEP=grid timeout 40 $B --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 64,1024 --policies adamas --iters 50 >> $O/step.jsonl
el bench
python3 - <<'PY'
import json
for f in ['step','probe1','step_read']:
  for l in open('/tmp/o/%s.jsonl' % f):
    r=json.loads(l)
    if 'policy' not in r: continue
    print(f, r.get('round',''), r['step'], r['kv_heads'], r['context'], r['budget'], 'total %.2f' % r['total_us'], r['flush'])
PY
for step in auto grid; do
  ADAMAS_STEP=$step timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat_$step.json 2>$O/e2e_$step.err; echo "e2e $step rc $?"
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_longchat_$step.json'))
for r in d['rows']: print('$step', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attn %.3f' % r['attention_ms'])
" 2>&1 | tail -4
done
el e2e
PARTS=tests LIMIT=220 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c2.tgz -C $O .
