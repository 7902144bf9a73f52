#!/usr/bin/env bash
# session 8 call 1: first run of the cluster step (adamas_step.cu): smoke test, step benchmark cluster vs
# split, LongChat-7B end to end, the Quest begin_row fix, the select/cluster/decoder test families
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
OMP_NUM_THREADS=8 timeout 90 $T --gtest_brief=1 --gtest_filter='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/SelectAttentionTest.*f16_d64_q4_kv2*' > $O/smoke.log 2>&1
smoke=$?; el "smoke rc $smoke"; grep -h -B2 -A8 "Failure" $O/smoke.log | head -40; tail -3 $O/smoke.log
if [ $smoke -eq 0 ]; then
  for step in cluster split; do
    for kv in 32 8; do for c in 8192 32768 131072; do
      ADAMAS_STEP=$step ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 64,256,1024 --policies adamas --iters 30 >> $O/step_$step.jsonl
    done; done
    ADAMAS_STEP=$step ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 8 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --iters 20 >> $O/step_$step.jsonl
  done
  python3 -c "
import json
for v in ['cluster','split']:
  for l in open('/tmp/o/step_%s.jsonl'%v):
    r=json.loads(l)
    if 'policy' in r: print(v, r['batch'], r['kv_heads'], r['context'], r['budget'], 'total', r['total_us'])
"
  el bench
  timeout 150 /tmp/bin/adamas bench-e2e --shape longchat-7b --batches 1 --contexts 32768,131072 --budgets 256 --policies full,adamas --iterations 10 --json > $O/e2e_longchat_cluster.json 2> $O/e2e.log
  echo "e2e rc $?"
  python3 -c "
import json
d=json.load(open('/tmp/o/e2e_longchat_cluster.json'))
for r in d['rows']: print(r['policy'], r['context'], r['budget'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'attn', round(r['attention_ms'],3), 'other', round(r['other_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
  el e2e
fi
(ADAMAS_TEST_VERBOSE=1 ADAMAS_TEST_SEED=2 OMP_NUM_THREADS=1 timeout 100 $T --gtest_filter='Policies/CudaDecoderTest.MatchesCpuRuntimeStepByStep/3' > $O/quest_seed2.log 2>&1; echo "quest seed 2 rc $?" >> $O/seeds.txt) &
for seed in 34184 5; do (ADAMAS_TEST_SEED=$seed OMP_NUM_THREADS=1 timeout 100 $T --gtest_filter='Policies/CudaDecoderTest.*' > $O/dec_$seed.log 2>&1; echo "decoder seed $seed rc $?" >> $O/seeds.txt) & done
F='Shapes/SelectAttentionTest.*:Shapes/ClusterStep*:Shapes/SplitStepTest.*:*CudaDecoder*:*CodeOptions*Runtime*:*CudaGraphDecode*:DecodePlanTest.*:LargeContext*'
for i in $(seq 0 12); do
  OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=13 GTEST_SHARD_INDEX=$i timeout 230 $T --gtest_brief=1 --gtest_filter="$F" > $O/t_$i.log 2>&1 &
done
wait; el tests
cat $O/seeds.txt
grep -h "^\[  PASSED  \]" $O/t_*.log | awk '{s += $4} END {print "passed", s}'
grep -h "FAILED  \]" $O/t_*.log | head -20
echo "unfinished: $(grep -L 'tests ran\|PASSED\|FAILED' $O/t_*.log | wc -l)"
grep -h -A10 "Failure" $O/t_*.log $O/dec_*.log | grep -v "^step" | head -40
grep -h "reported\|differ" $O/quest_seed2.log | head -8
tar czf $OUT/c1.tgz -C $O .
