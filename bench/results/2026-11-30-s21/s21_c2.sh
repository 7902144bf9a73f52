#!/usr/bin/env bash
# session 21 call 2 (nvidia-h200): the grid step's dynamic shared memory padded so that no SM holds
# more of its blocks than the grid needs (ceil(blocks / SMs)); then the step launched
# programmatically (ADAMAS_STEP_PDL=1) end to end, which before this placed blocks unevenly (the
# hypothesis): isolated step, end to end A/B (two rounds), the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
ADAMAS_STEP_VERBOSE=1 $B --iters 3 --batch 1 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies adamas --estimators l1 2>&1 | grep "grid step" | head -2
ADAMAS_STEP_VERBOSE=1 $B --iters 3 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 2>&1 | grep "grid step" | head -2
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do echo "kv$kv $c $(step $kv $c) $(step $kv $c) pdl1 $(ADAMAS_STEP_PDL=1 step $kv $c)"; done; done | tee $O/steps.txt
el steps
e2e() {  # tag policies shape, env...
  local tag=$1 pol=$2 shape=$3; shift 3
  env "$@" timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for shape in longchat-7b llama3-8b; do
  e2e ${shape}_pdl0 full,adamas $shape ADAMAS_STEP_PDL=0
  for rep in a b; do
    e2e ${shape}_pdl1_$rep adamas $shape ADAMAS_STEP_PDL=1
    e2e ${shape}_pdl0_$rep adamas $shape ADAMAS_STEP_PDL=0
    e2e ${shape}_pdl1_share_$rep adamas $shape ADAMAS_STEP_PDL=1 ADAMAS_GRID_SHARE=1
  done
done 2>&1 | tee $O/e2e.txt
el e2e
PARTS=tests LIMIT=220 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c2.tgz -C $O .
