#!/usr/bin/env bash
# session 15 call 1 (nvidia-h200-x2): GPU 1 racecheck of the asymmetric n9000 test (540 s); GPU 0:
# the GEMV probe, LongChat-7B end to end with the graph split, folded norms on/off, the step's phase
# trace at 32K, the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
nvidia-smi --query-gpu=index,name --format=csv,noheader
CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=4 timeout 550 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='Shapes/AsymmetricSelectTest.FixedBookMatchesReference/d128_q8_kv2_b5_n9000' > $O/racecheck_n9000.log 2>&1 &
RC=$!
export CUDA_VISIBLE_DEVICES=0
/usr/local/cuda/bin/nvcc -O3 -std=c++20 -arch=sm_90a -I include -I src -o /tmp/gemv_probe bench/probes/gemv_probe.cu -L/tmp/bin -ladamas && timeout 120 /tmp/gemv_probe > $O/gemv_probe.jsonl; cat $O/gemv_probe.jsonl
el probe
for n in 1 0; do
  ADAMAS_GEMV_NORM=$n timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b --graph-split > $O/e2e_norm$n.json 2>$O/e2e_norm$n.err; echo "e2e norm $n rc $?"
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_norm$n.json'))
for r in d['rows']: print('norm $n', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], {k: round(r['ms_per_step']-v,3) for k,v in r['graph_ms_without'].items()})
"
  el e2e $n
done
ADAMAS_STEP_TRACE=1 timeout 60 /tmp/bin/adamas_cuda_bench --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 --iters 5 > $O/trace32k.out 2> $O/trace32k.txt; cat $O/trace32k.txt | head -30
el trace
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -5 $O/checks.log
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
wait $RC; echo "racecheck rc $?"; grep -E "PASSED|FAILED|RACECHECK SUMMARY|ERROR SUMMARY" $O/racecheck_n9000.log
el racecheck
tar czf $OUT/c1.tgz -C $O .
