#!/usr/bin/env bash
# session 23 call 7 (nvidia-h200): attend_rows with the current token after the batches (no branch in
# the unrolled batch) and MUFU.EX2 alone for the softmax: the isolated step, its traces, ncu's stall
# samples, end to end, the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c "import sys,json; print(' '.join('%.2f' % json.loads(l)['total_us'] for l in sys.stdin if l.startswith('{')))"; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do echo "kv$kv $c $(step $kv $c) $(step $kv $c) $(step $kv $c)"; done; done | tee $O/steps.txt
el steps
ADAMAS_STEP_TRACE=1 $B --iters 3 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 > $O/trace_iso.txt 2>&1
sed -n '/grid step trace/,+14p' $O/trace_iso.txt | head -15
ADAMAS_STEP_TRACE=1 timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace.txt 2>&1
sed -n '/grid step trace/,+22p' $O/trace.txt | head -23
el traces
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
timeout 200 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 --set full --import-source no -o /tmp/ncu_32768 \
  $B --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 --iters 3 > $O/ncu_run.log 2>&1
ncu --import /tmp/ncu_32768.ncu-rep --page source --csv --print-source sass > $O/ncu_sass_32768.csv 2>/dev/null
ncu --import /tmp/ncu_32768.ncu-rep --page details --print-details all > $O/ncu_details_32768.txt 2>&1
grep -E "Duration|smsp__pcsamp_warps_issue_stalled_(no_instructions|barrier|long_scoreboard)" $O/ncu_details_32768.txt | head -5
xz -T4 $O/*.csv
el ncu
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
rm -rf $O/checks
el suite
tar czf $OUT/c7.tgz -C $O .
