#!/usr/bin/env bash
# session 19 call 8 (nvidia-h200), the final library: the steps launched programmatically by default
# (ADAMAS_STEP_PDL=1, their wait after the set-up) and the append after the step. Sanitizers on the
# changed steps, the table of record, end to end, then the GPU suite.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=4
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Steps/StepCurrentTokenTest.*:Shapes/GridStepTest.*f16_d64_q2_kv1*:Shapes/ClusterStepTest.*f16_d64_q2_kv1*:Shapes/GridStepPlainLaunchTest.*bf16_d128_q16_kv2*:Policies/CudaGraphDecodeTest.*' > $O/memcheck.log 2>&1 &
timeout 200 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Steps/StepCurrentTokenTest.*:Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*' > $O/racecheck.log 2>&1 &
wait
for l in $O/memcheck.log $O/racecheck.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
el sanitizers
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for rep in 1 2; do for kv in 32 8; do for c in 8192 32768 131072; do
  echo "rep$rep kv$kv $c step_pdl1 $(step $kv $c) step_pdl0 $(ADAMAS_STEP_PDL=0 step $kv $c)"
done; done; done 2>&1 | tee $O/step_pdl_ab.txt
el step_ab
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for shape in longchat-7b llama3-8b; do
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
done | tee $O/e2e.txt
ADAMAS_STEP_PDL=0 timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b 2>/dev/null | python3 -c "
import json,sys; d=json.load(sys.stdin)
for r in d['rows']: print('longchat-7b STEP_PDL=0', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])
" | tee -a $O/e2e.txt
el e2e
PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c8.tgz -C $O .
