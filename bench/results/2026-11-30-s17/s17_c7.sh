#!/usr/bin/env bash
# session 17 call 7 (nvidia-h200-x2), the library as committed: GPU 0 the table of record and end to
# end (LongChat-7B, Llama-3-8B, batch 1); GPU 1 memcheck and racecheck of the stealing cluster step,
# the dense kernels and the grid step, then the GPU suite (with the new ClusterStepStealTest)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
(export CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=4
 timeout 170 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/ClusterStepStealTest.*f16_d64_q2_kv1*:Shapes/DenseMmaTest.MatchesReference/bf16_d128_q8_kv2*' > $O/race/steal_dense.log 2>&1 &
 timeout 170 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/ClusterStepStealTest.*f16_d64_q2_kv1*:Shapes/ClusterStepStealTest.*bf16_d256_q8_kv2*:Shapes/DenseMmaTest.*f16_d128_q8_kv2*:Shapes/DenseWarpSplitTest.*f16_d128_q8_kv4_b5*:Shapes/GridStepTest.*f16_d64_q2_kv1*' > $O/mem/steal_dense.log 2>&1 &
 wait
 PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 12 > $O/checks.log 2>&1) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for shape in longchat-7b llama3-8b; do
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
done | tee $O/e2e.txt
el e2e
wait $SAN
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c7.tgz -C $O .
