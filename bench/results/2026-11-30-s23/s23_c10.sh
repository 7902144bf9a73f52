#!/usr/bin/env bash
# session 23 call 10 (nvidia-h200): A/B in one binary, the merges' weights by exp2f as committed
# (ADAMAS_OLD_MERGE=1, an experiment-only instantiation) against MUFU.EX2 alone (softmax_exp2,
# default): isolated steps alternating, traces, end to end alternating.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c "import sys,json; print(' '.join('%.2f' % json.loads(l)['total_us'] for l in sys.stdin if l.startswith('{')))"; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do
  echo "kv$kv $c old $(ADAMAS_OLD_MERGE=1 step $kv $c) new $(step $kv $c) old $(ADAMAS_OLD_MERGE=1 step $kv $c) new $(step $kv $c) old $(ADAMAS_OLD_MERGE=1 step $kv $c) new $(step $kv $c)"
done; done | tee $O/steps.txt
el steps
for v in old new; do
  if [ $v = old ]; then export ADAMAS_OLD_MERGE=1; else unset ADAMAS_OLD_MERGE; fi
  ADAMAS_STEP_TRACE=1 $B --iters 3 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 > $O/trace_iso_$v.txt 2>&1
  echo "== iso $v"; sed -n '/grid step trace/,+14p' $O/trace_iso_$v.txt | head -15
  ADAMAS_STEP_TRACE=1 timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_$v.txt 2>&1
  echo "== e2e $v"; sed -n '/grid step trace/,+22p' $O/trace_$v.txt | head -23
done
unset ADAMAS_OLD_MERGE
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
  e2e lc_old_$rep full,adamas longchat-7b 32768 ADAMAS_OLD_MERGE=1
  e2e lc_new_$rep full,adamas longchat-7b 32768 X=1
done 2>&1 | tee $O/e2e.txt
e2e l3_old full,adamas llama3-8b 32768,131072 ADAMAS_OLD_MERGE=1 2>&1 | tee -a $O/e2e.txt
e2e l3_new full,adamas llama3-8b 32768,131072 X=1 2>&1 | tee -a $O/e2e.txt
el e2e
tar czf $OUT/c10.tgz -C $O .
