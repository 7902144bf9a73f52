#!/usr/bin/env bash
# session 20 call 6 (nvidia-h200): attention sharing with the phase stamps' slot worked out at each
# mark and the blocks' counts in shared memory (fewer long-lived registers): isolated step A/B
# (ADAMAS_GRID_SHARE=1 / 0), its trace, LongChat-7B end to end A/B.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=16
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for rep in 1 2; do for kv in 32 8; do for c in 32768 131072; do
  echo "rep$rep kv$kv $c share1 $(step $kv $c) share0 $(ADAMAS_GRID_SHARE=0 step $kv $c)"
done; done; done | tee $O/steps.txt
for s in 1 0; do ADAMAS_GRID_SHARE=$s ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 > /dev/null 2> $O/trace_share$s.err; grep -E "scan (starts|ends)|merged|blocks on the SM" $O/trace_share$s.err; done
el steps
e2e() {  # tag policies shape, env...
  local tag=$1 pol=$2 shape=$3; shift 3
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
"
}
e2e lc_share1 full,adamas longchat-7b X=1
e2e lc_share0 adamas longchat-7b ADAMAS_GRID_SHARE=0
e2e lc_share1b adamas longchat-7b X=1
e2e lc_share0b adamas longchat-7b ADAMAS_GRID_SHARE=0
el e2e
tar czf $OUT/c6.tgz -C $O .
