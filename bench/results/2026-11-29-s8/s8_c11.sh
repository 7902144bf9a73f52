#!/usr/bin/env bash
# session 8 call 11: final validation after the load_slot_codes refactor and the new CUDA recall test: the whole
# GPU suite, the step benchmark (auto), racecheck of the cluster step's n9000 case with a longer limit
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
(OMP_NUM_THREADS=2 timeout 270 compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_filter='Shapes/ClusterStepTest.MatchesReference/bf16_d256_q8_kv2_b2_n9000' > $O/racecheck_n9000.log 2>&1; echo "racecheck n9000 rc $?" > $O/race.txt) &
for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 30 >> $O/step_final.jsonl
done; done
python3 -c "
import json
for l in open('/tmp/o/step_final.jsonl'):
  r=json.loads(l); print('auto', r['batch'], r['kv_heads'], r['context'], r['budget'], r['total_us'])
"
el bench
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A10 "Failure" $O/checks/tests_*.log | head -40
el suite
wait
cat $O/race.txt; grep -h "RACECHECK SUMMARY\|PASSED\|FAILED" $O/racecheck_n9000.log | head
el race
tar czf $OUT/c11.tgz -C $O .
