#!/usr/bin/env bash
# session 16 call 1 (nvidia-h200-x2): GPU 0: DenseMmaTest, the set_graph_skip list form, dense
# attention warp vs mma vs cuDNN (MHA and GQA, 8K-128K); GPU 1: memcheck and racecheck of the mma
# kernel, the asymmetric racecheck test at one budget
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
(export CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=2
 timeout 250 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*f16_d128_q8_kv2*:Shapes/DenseMmaTest.*bf16_d64_q16_kv2*' > $O/mem/mma.log 2>&1 &
 timeout 250 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.MatchesReference/bf16_d128_q8_kv2*' > $O/race/mma.log 2>&1 &
 ADAMAS_TEST_BUDGETS=256 timeout 420 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv2_b2_n4100*' > $O/race/asym.log 2>&1 &
 wait) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
OMP_NUM_THREADS=8 timeout 200 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*:CudaGraphSkipTest.*' > $O/mma_test.log 2>&1; echo "mma tests rc $?"; tail -3 $O/mma_test.log; grep -A8 Failure $O/mma_test.log | head -40
el tests
B=/tmp/bin/adamas_cuda_bench
for v in warp mma; do
  : > $O/dense_$v.jsonl
  for c in 8192 32768 131072; do for kv in 32 8; do
    ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full,adamas --estimators l1 >> $O/dense_$v.jsonl
  done; done
  ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 8 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies full,adamas --estimators l1 >> $O/dense_$v.jsonl
  $B --copy-bandwidth >> $O/dense_$v.jsonl
done
el bench
python3 bench/sdpa_baseline.py --adamas $O/dense_mma.jsonl --command "ADAMAS_DENSE_VARIANT=mma adamas_cuda_bench --policies full,adamas" --out $O/dense_mma.md > $O/sdpa.log 2>&1
python3 - <<'PY'
import json
rows={}
for v in ['warp','mma']:
  for l in open('/tmp/o/dense_%s.jsonl'%v):
    if l.startswith('{') and 'policy' in l:
      r=json.loads(l)
      if r['policy']=='full': rows.setdefault((r['batch'],r['kv_heads'],r['context']),{})[v]=r['attend_us']
for k,v in sorted(rows.items()): print(k, v)
PY
sed -n '/Our dense kernel/,$p' $O/dense_mma.md
el sdpa
wait $SAN
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
el sanitizers
tar czf $OUT/c1.tgz -C $O .
