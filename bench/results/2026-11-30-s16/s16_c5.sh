#!/usr/bin/env bash
# session 16 call 5 (nvidia-h200-x2): the L2 prefetch-size hint (ADAMAS_L2_PREFETCH=256 build: the
# code scan's loads and the attention's cp.async) against the same code without it, side by side
# (libraries swapped under the same binaries); GPU 1: the calibrated-runtime test at its failing
# seed and 30 fresh seeds with thresholds midway between values, then the GPU suite on the pf lib
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
mkdir -p /tmp/lib_base /tmp/lib_pf
cp /tmp/bin/libadamas.so /tmp/lib_pf/; cp /tmp/bin/libadamas_base.so /tmp/lib_base/libadamas.so
(export CUDA_VISIBLE_DEVICES=1 LD_LIBRARY_PATH=/tmp/lib_pf:/tmp/bin:/usr/local/cuda/lib64
 T=/tmp/bin/adamas_cuda_tests
 ADAMAS_TEST_SEED=37362 timeout 60 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' > $O/asym_seed.log 2>&1; echo "seed 37362 rc $?" > $O/asym.txt
 timeout 200 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' --gtest_repeat=30 > $O/asym_repeat.log 2>&1; echo "repeat rc $? passed $(grep -cE '^\[  PASSED  \] 1 test' $O/asym_repeat.log)" >> $O/asym.txt
 PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 12 > $O/checks.log 2>&1) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
for round in 1 2; do for lib in base pf; do
  export LD_LIBRARY_PATH=/tmp/lib_$lib:/tmp/bin:/usr/local/cuda/lib64
  for kv in 32 8; do for c in 32768 131072; do
    $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full,adamas --estimators l1 | python3 -c '
import sys, json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l:
    r = json.loads(l); print("'$round' '$lib'", r["kv_heads"], r["context"], r["policy"], "total %.1f est %.1f attend %.1f" % (r["total_us"], r["estimate_us"], r["attend_us"]))'
  done; done
done; done | tee $O/ab.txt
el ab
for lib in base pf base pf; do
  export LD_LIBRARY_PATH=/tmp/lib_$lib:/tmp/bin:/usr/local/cuda/lib64
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_$lib.json 2>/dev/null
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$lib.json'))
for r in d['rows']: print('$lib', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"
done | tee $O/e2e.txt
el e2e
wait $SAN
cat $O/asym.txt; grep -E "actual|seed=" $O/asym_seed.log | head -4
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c5.tgz -C $O .
