#!/usr/bin/env bash
# session 17 call 6 (nvidia-h200): StealingScan with the thieves peeking every block's claim word at
# once (one round trip) against the static scan, same binaries; end to end at 32K
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r["total_us"])'; }
for round in 1 2; do for kv in 32 8; do for c in 8192 32768 131072; do
  for s in 0 1; do echo "steal $s round $round kv $kv context $c $(ADAMAS_STEP_STEAL=$s $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 | tot)"; done
done; done; done | tee $O/ab.txt
for s in 0 1; do echo "steal $s cluster kv 32 context 131072 $(ADAMAS_STEP=cluster ADAMAS_STEP_STEAL=$s $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --budgets 256 --policies adamas --estimators l1 | tot)"; done | tee -a $O/ab.txt
el ab
echo "== steal 1 context 32768"; ADAMAS_STEP_STEAL=1 ADAMAS_STEP_TRACE=1 $B --iters 2 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null | grep -A16 "step trace" | head -16 | tee $O/trace.txt
for s in 0 1; do for shape in longchat-7b llama3-8b; do
  ADAMAS_STEP_STEAL=$s timeout 60 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape $shape > $O/e2e_${s}_$shape.json 2>$O/e2e_${s}_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_${s}_$shape.json'))
for r in d['rows']: print('steal $s $shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"; done; done | tee $O/e2e.txt
el e2e
tar czf $OUT/c6.tgz -C $O .
