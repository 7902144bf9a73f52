#!/usr/bin/env bash
# session 7 call 4: dense attention with the tile split between warps (ADAMAS_DENSE_VARIANT=warp): tests, benchmark vs new and SDPA;
# calibration rule (seed 38546 and a seed sweep); twopass asymmetric with 4 and 8 heads per row
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
timeout 60 $T --gtest_brief=1 --gtest_filter='Shapes/WarpSplitDenseTest.MatchesReference/*128*' > /tmp/o/smoke.log 2>&1; echo "smoke rc $?"; grep -A6 "Failure" /tmp/o/smoke.log | head -20; tail -3 /tmp/o/smoke.log
el smoke
for v in new warp; do
  for shape in "1 32 32" "1 32 8" ; do set -- $shape
    for c in 8192 32768 131072; do
      ADAMAS_DENSE_VARIANT=$v ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch $1 --q-heads $2 --kv-heads $3 --context $c --budgets 256 --policies full,adamas --iters 30 >> /tmp/o/dense_$v.jsonl
    done
  done
  ADAMAS_DENSE_VARIANT=$v ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 8 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies full,adamas --iters 20 >> /tmp/o/dense_$v.jsonl
  ADAMAS_DENSE_VARIANT=$v timeout 30 $B --copy-bandwidth >> /tmp/o/dense_$v.jsonl 2>/dev/null
done
python3 -c "
import json
for v in ['new','warp']:
  for l in open('/tmp/o/dense_%s.jsonl'%v):
    r=json.loads(l)
    if r.get('policy')=='full': print(v, r['batch'], r['kv_heads'], r['context'], 'attend', r['attend_us'], 'GB/s', r['gb_per_s'])
"
el bench
timeout 200 python3 bench/sdpa_baseline.py --adamas /tmp/o/dense_warp.jsonl --out /tmp/o/sdpa_vs_warp.md --command ".cuda-run/s7_c4.sh" > /tmp/o/sdpa.log 2>&1; echo "sdpa rc $?"
grep -A12 "Our dense kernel" /tmp/o/sdpa_vs_warp.md
el sdpa
for kv in 8 4; do for c in 32768 131072; do for v in new twopass; do
  ADAMAS_ASYM_VARIANT=$v ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 | sed "s/^{/{\"v\": \"$v\", /" >> /tmp/o/asym.jsonl
done; done; done
python3 -c "
import json
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r['v'], r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'])
"
el asym
for i in $(seq 0 13); do
  GTEST_TOTAL_SHARDS=14 GTEST_SHARD_INDEX=$i timeout 220 $T --gtest_brief=1 --gtest_filter='*WarpSplitDense*:*KernelVariants*:*CudaDecoder*' > /tmp/o/t_$i.log 2>&1 &
done
for seed in 38546 1 2 3 4 5 6; do (ADAMAS_TEST_SEED=$seed timeout 200 $T --gtest_brief=1 --gtest_filter='CudaRuntimeCodeOptionsTest.*' > /tmp/o/seed_$seed.log 2>&1; echo "seed $seed rc $?" >> /tmp/o/seeds.txt) & done
wait; el tests
cat /tmp/o/seeds.txt
grep -h "^\[  PASSED  \]" /tmp/o/t_*.log | awk '{s += $4} END {print "passed", s}'
grep -h "FAILED  \]" /tmp/o/t_*.log /tmp/o/seed_*.log | head
grep -h -A10 "Failure" /tmp/o/t_*.log /tmp/o/seed_*.log | head -40
tar czf $OUT/c4.tgz -C /tmp/o .
