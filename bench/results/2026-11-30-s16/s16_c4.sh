#!/usr/bin/env bash
# session 16 call 4 (nvidia-h200-x2): dense kernels with page ids read a tile ahead and the first
# copies issued before q. GPU 0: dense tests, dense warp/mma vs cuDNN (write flush and read flush);
# GPU 1: memcheck + racecheck of both dense kernels, then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
(export CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=2
 timeout 250 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*f16_d128_q8_kv2*:Shapes/DenseMmaTest.*bf16_d64_q16_kv2*:Shapes/DenseWarpSplitTest.*f16_d128_q8_kv4_b5*:Shapes/SelectAttentionTest.*f16_d128_q4_kv4*' > $O/mem/dense.log 2>&1 &
 timeout 250 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.MatchesReference/bf16_d128_q8_kv2*' > $O/race/mma.log 2>&1 &
 timeout 250 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseWarpSplitTest.MatchesReference/f16_d64_q8_kv2*' > $O/race/warp64.log 2>&1 &
 wait
 PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 12 > $O/checks.log 2>&1) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
OMP_NUM_THREADS=8 timeout 200 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*:Shapes/DenseWarpSplitTest.*' > $O/dense_test.log 2>&1; echo "dense tests rc $?"; tail -2 $O/dense_test.log; grep -A8 Failure $O/dense_test.log | head -30
el tests
B=/tmp/bin/adamas_cuda_bench
for flush in write read; do for v in warp mma; do
  : > $O/dense_${v}_$flush.jsonl
  for c in 8192 32768 131072; do for kv in 32 8; do
    ADAMAS_BENCH_FLUSH=$flush ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 >> $O/dense_${v}_$flush.jsonl
  done; done
  ADAMAS_BENCH_FLUSH=$flush ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 8 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies full --estimators l1 >> $O/dense_${v}_$flush.jsonl
  ADAMAS_BENCH_FLUSH=$flush ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 8 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies full --estimators l1 >> $O/dense_${v}_$flush.jsonl
done
ADAMAS_BENCH_FLUSH=$flush python3 bench/sdpa_baseline.py --adamas $O/dense_mma_$flush.jsonl --command "ADAMAS_BENCH_FLUSH=$flush adamas_cuda_bench --policies full (c4)" --out $O/dense_mma_$flush.md > $O/sdpa_$flush.log 2>&1
echo "flush $flush"; sed -n '/Our dense kernel/,$p' $O/dense_mma_$flush.md | grep "^| [0-9]"
python3 - $flush <<'PY'
import json, sys
rows={}
for v in ['warp','mma']:
  for l in open('/tmp/o/dense_%s_%s.jsonl' % (v, sys.argv[1])):
    if l.startswith('{') and 'policy' in l:
      r=json.loads(l)
      if r['policy']=='full': rows.setdefault((r['batch'],r['kv_heads'],r['context']),{})[v]=r['attend_us']
for k,v in sorted(rows.items()): print(k, v)
PY
done
el dense
wait $SAN
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el sanitizers+suite
tar czf $OUT/c4.tgz -C $O .
