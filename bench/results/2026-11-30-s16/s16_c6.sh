#!/usr/bin/env bash
# session 16 call 6 (nvidia-h200-x2): K/V copies with an L2 evict-first policy (ADAMAS_KV_EVICT,
# default first) against the default policy, side by side; the table of record; end to end.
# GPU 1: the changed tests (calibrated runtime at seeds 37362 and 86032 and 30 fresh ones), memcheck
# and racecheck of the attention kernels, then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
(export CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=4
 for s in 37362 86032; do ADAMAS_TEST_SEED=$s timeout 60 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' > $O/asym_$s.log 2>&1; echo "seed $s rc $?" >> $O/asym.txt; done
 timeout 200 $T --gtest_filter='CudaRuntimeAsymmetricTest.*' --gtest_repeat=30 > $O/asym_repeat.log 2>&1; echo "repeat rc $? passed $(grep -cE '^\[  PASSED  \] 1 test' $O/asym_repeat.log)" >> $O/asym.txt
 timeout 200 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*f16_d128_q8_kv2*:Shapes/DenseWarpSplitTest.*f16_d128_q8_kv4_b5*:Shapes/SelectAttentionTest.*f16_d128_q4_kv4*:Shapes/KvEvictNormalTest.*bf16_d64_q8*' > $O/mem/attention.log 2>&1 &
 timeout 200 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.MatchesReference/bf16_d128_q8_kv2*' > $O/race/mma.log 2>&1 &
 wait
 PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 12 > $O/checks.log 2>&1) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
for flush in write read; do for round in 1 2; do for ev in normal first; do
  for kv in 32 8; do for c in 8192 32768 131072; do
    ADAMAS_KV_EVICT=$ev ADAMAS_BENCH_FLUSH=$flush $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full,adamas --estimators l1 | python3 -c '
import sys, json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l:
    r = json.loads(l); print("'$flush' '$round' '$ev'", r["kv_heads"], r["context"], r["policy"], "total %.1f attend %.1f" % (r["total_us"], r["attend_us"]))'
  done; done
done; done; done | tee $O/ab.txt
el ab
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for ev in normal first; do for shape in longchat-7b llama3-8b; do
  ADAMAS_KV_EVICT=$ev timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_${shape}_$ev.json 2>/dev/null
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_${shape}_$ev.json'))
for r in d['rows']: print('$ev $shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"
done; done | tee $O/e2e.txt
el e2e
wait $SAN
cat $O/asym.txt; grep -hE "actual|seed=" $O/asym_*.log | head -6
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c6.tgz -C $O .
