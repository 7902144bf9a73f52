#!/usr/bin/env bash
# Session 26, call 1: the GPU suite over commit 280f0bc (host-only change to the decoder's step
# inputs, built but not run in session 25), LongChat-7B end to end, and phase traces of the grid step
# (isolated at 32K / 128K, end to end at 32K).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
for rep in a b c; do
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_lc_$rep.json 2>$O/e2e_lc_$rep.err || tail -2 $O/e2e_lc_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_lc_$rep.json'))
for r in d['rows']: print('lc_$rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done 2>&1 | tee $O/e2e.txt
el e2e
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_iso_$c.txt 2>&1
  sed -n '/grid step trace/,+12p' $O/trace_iso_$c.txt | head -13
done
ADAMAS_STEP_TRACE=1 timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_e2e.txt 2>&1
sed -n '/grid step trace/,+12p' $O/trace_e2e.txt | head -13
el traces
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -1 $O/checks.log
el checks
tar czf $OUT/c1.tgz -C $O .
