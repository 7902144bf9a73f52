#!/usr/bin/env bash
# session 16 call 2 (nvidia-h200-x2): the mma kernel with hi/lo packed into the idle rows and slots,
# now the default. GPU 0: DenseMmaTest + DenseWarpSplitTest, dense warp vs mma vs cuDNN, the table
# of record, Llama-3-8B end to end; GPU 1: memcheck + racecheck of the mma kernel, then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
(export CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=2
 timeout 250 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*f16_d128_q8_kv2*:Shapes/DenseMmaTest.*bf16_d64_q16_kv2*' > $O/mem/mma.log 2>&1 &
 timeout 250 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.MatchesReference/bf16_d128_q8_kv2*' > $O/race/mma.log 2>&1 &
 timeout 250 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.MatchesReference/f16_d64_q8_kv2*' > $O/race/mma64.log 2>&1 &
 wait
 PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 12 > $O/checks.log 2>&1) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
OMP_NUM_THREADS=8 timeout 200 $T --gtest_brief=1 --gtest_filter='Shapes/DenseMmaTest.*:Shapes/DenseWarpSplitTest.*' > $O/mma_test.log 2>&1; echo "dense tests rc $?"; tail -3 $O/mma_test.log; grep -A8 Failure $O/mma_test.log | head -40
el tests
B=/tmp/bin/adamas_cuda_bench
for v in warp mma; do
  : > $O/dense_$v.jsonl
  for c in 8192 32768 131072; do for kv in 32 8; do
    ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 >> $O/dense_$v.jsonl
  done; done
  ADAMAS_DENSE_VARIANT=$v $B --iters 50 --batch 8 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies full --estimators l1 >> $O/dense_$v.jsonl
done
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
el dense
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for shape in llama3-8b longchat-7b; do
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err; echo "e2e $shape rc $?"
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"
done
el e2e
wait $SAN
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
tail -2 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el sanitizers+suite
tar czf $OUT/c2.tgz -C $O .
