#!/usr/bin/env bash
# session 8 call 3: cluster step with page ids a round ahead and sparser bound updates: smoke, probes, 2 vs 3 blocks
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
(OMP_NUM_THREADS=8 timeout 120 $T --gtest_brief=1 --gtest_filter='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/SelectAttentionTest.*f16_d64_q4_kv2*:Shapes/ClusterStepTest.*q32_kv32*:Shapes/ClusterStepTest.*d64_q2_kv1*' > $O/smoke_3.log 2>&1; echo "smoke 3 rc $?" > $O/smoke.txt) &
(ADAMAS_STEP_BLOCKS=2 OMP_NUM_THREADS=8 timeout 120 $T --gtest_brief=1 --gtest_filter='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/ClusterStepTest.*d64_q2_kv1*' > $O/smoke_2.log 2>&1; echo "smoke 2 rc $?" >> $O/smoke.txt) &
wait; cat $O/smoke.txt; grep -h -B2 -A8 "Failure" $O/smoke_*.log | head -20
el smoke
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch $1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --iters 30; }
for v in "cluster 3 0" "cluster 3 1" "cluster 3 2" "cluster 3 3" "cluster 2 0" "split 3 0"; do set -- $v
  for kv in 32 8; do for c in 8192 32768 131072; do
    ADAMAS_STEP=$1 ADAMAS_STEP_BLOCKS=$2 ADAMAS_STEP_PROBE=$3 run 1 $kv $c | sed "s/}$/, \"tag\": \"$1_$2_p$3\"}/" >> $O/probe.jsonl
  done; done
  ADAMAS_STEP=$1 ADAMAS_STEP_BLOCKS=$2 ADAMAS_STEP_PROBE=$3 run 8 32 32768 | sed "s/}$/, \"tag\": \"$1_$2_p$3\"}/" >> $O/probe.jsonl
done
python3 -c "
import json,collections
t=collections.OrderedDict(); tags=[]
for l in open('/tmp/o/probe.jsonl'):
  r=json.loads(l)
  if r['tag'] not in tags: tags.append(r['tag'])
  t.setdefault((r['batch'], r['kv_heads'], r['context']), {})[r['tag']]=r['total_us']
print('batch kv context |', *tags)
for k,v in t.items(): print(*k, '|', *[v.get(x) for x in tags])
"
el bench
tar czf $OUT/c3.tgz -C $O .
