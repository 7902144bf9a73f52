#!/usr/bin/env bash
# session 17 call 5 (nvidia-h200-x2): StealingScan with its own span's stores and atomics in shared
# memory (not through generic pointers) against the static scan; the dense split rule (16 splits for
# GQA 32/8 below 101K) against 33; end to end. GPU 1: sanitizers on the cluster step, the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
(export CUDA_VISIBLE_DEVICES=1 OMP_NUM_THREADS=4
 timeout 200 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/ClusterStepTest.*bf16_d256_q8_kv2*:Shapes/ClusterStepTest.*f16_d64_q2_kv1*' > $O/race/cluster.log 2>&1 &
 timeout 200 compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='Shapes/ClusterStepTest.*f16_d64_q2_kv1*:Shapes/ClusterStepTest.*f16_d128_q32_kv8*:Shapes/ClusterStepProgrammaticTest.*bf16_d128_q16_kv2*' > $O/mem/cluster.log 2>&1 &
 wait
 PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 12 > $O/checks.log 2>&1) &
SAN=$!
export CUDA_VISIBLE_DEVICES=0
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r["total_us"], r["attend_us"])'; }
for round in 1 2; do for kv in 32 8; do for c in 8192 32768 131072; do for st in auto cluster; do
  [ $st = cluster ] && [ $c != 131072 ] && continue
  for s in 0 1; do echo "steal $s step $st round $round kv $kv context $c $(ADAMAS_STEP=$st ADAMAS_STEP_STEAL=$s $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 | tot)"; done
done; done; done; done | tee $O/ab.txt
for s in 0 1; do for kv in 32 8; do echo "steal $s batch 8 kv $kv 32K $(ADAMAS_STEP_STEAL=$s $B --iters 50 --batch 8 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies adamas --estimators l1 | tot)"; done; done | tee -a $O/ab.txt
el ab
for c in 8192 32768 65536 131072; do for sp in auto 33; do echo "dense splits $sp kv 8 context $c $(ADAMAS_DENSE_SPLITS=$sp $B --iters 50 --batch 1 --q-heads 32 --kv-heads 8 --context $c --budgets 256 --policies full --estimators l1 | tot)"; done; done | tee $O/dense_rule.txt
el dense
for c in 32768 131072; do echo "== steal 1 context $c"; ADAMAS_STEP=cluster ADAMAS_STEP_TRACE=1 $B --iters 2 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 2>&1 >/dev/null | grep -A16 "step trace" | head -16; done | tee $O/trace.txt
el trace
for s in 0 1; do for shape in longchat-7b llama3-8b; do
  ADAMAS_STEP_STEAL=$s timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_${s}_$shape.json 2>$O/e2e_${s}_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_${s}_$shape.json'))
for r in d['rows']: print('steal $s $shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'])
"; done; done | tee $O/e2e.txt
el e2e
wait $SAN
for l in $O/mem/*.log $O/race/*.log; do echo "$l: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' $l | head -2 | tr '\n' ' ') $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $l)"; done
tail -1 $O/checks.log; grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head
el suite
tar czf $OUT/c5.tgz -C $O .
