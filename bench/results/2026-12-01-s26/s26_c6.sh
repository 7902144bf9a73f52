#!/usr/bin/env bash
# Session 26, call 6: d4 = the set-up variant (ADAMAS_STEP_SETUP) now also under programmatic launch
# (the decoder's LongChat-7B grid step): first (codes before the wait, as committed), after, split,
# alternating end to end; the isolated step auto against first; the set-up tests.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
tar xJf .cuda-run/d4.tar.xz -C /tmp
cp /tmp/d4/libadamas.so /tmp/bin/
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
for rep in a b c; do for v in first after split; do
  ADAMAS_STEP_SETUP=$v timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_${v}_$rep.json 2>$O/e2e_${v}_$rep.err || tail -2 $O/e2e_${v}_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_$rep.json'))
for r in d['rows']: print('lc $v $rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done; done 2>&1 | tee $O/e2e.txt
el e2e
iso() {  # setup kv context
  ADAMAS_STEP_SETUP=$1 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"
}
for rep in 1 2; do for v in first auto; do
  for kv in 32 8; do for c in 32768 131072; do iso $v $kv $c; done; done
done; done 2>&1 | tee $O/iso.txt
el iso
timeout 200 /tmp/bin/adamas_cuda_tests --gtest_filter='*StepSetup*:*GridStep*:*ClusterStep*:*KernelVariants*' --gtest_brief=1 > $O/tests.txt 2>&1; tail -3 $O/tests.txt
el tests
tar czf $OUT/c6.tgz -C $O .
