#!/usr/bin/env bash
# session 8 call 5: cluster step with q loaded first and the merge pushed to rank 0: smoke, phase stamps, bench
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
F='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/SelectAttentionTest.*f16_d64_q4_kv2*:Shapes/ClusterStepTest.*q32_kv32*:Shapes/ClusterStepTest.*d64_q2_kv1*:Shapes/SelectAttentionTest.*bf16_d256*:Shapes/SelectAttentionTest.*f16_d64_q4_kv4*'
for i in 0 1 2 3 4 5; do OMP_NUM_THREADS=2 GTEST_TOTAL_SHARDS=6 GTEST_SHARD_INDEX=$i timeout 150 $T --gtest_brief=1 --gtest_filter="$F" > $O/smoke_3_$i.log 2>&1 & done
for i in 0 1; do ADAMAS_STEP_BLOCKS=2 OMP_NUM_THREADS=2 GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$i timeout 150 $T --gtest_brief=1 --gtest_filter='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/ClusterStepTest.*d64_q2_kv1*' > $O/smoke_2_$i.log 2>&1 & done
wait
grep -h "^\[  PASSED  \]" $O/smoke_*.log | awk '{s += $4} END {print "smoke passed", s}'; grep -h "FAILED  \]" $O/smoke_*.log | head; grep -h -B2 -A8 "Failure" $O/smoke_*.log | head -20
el smoke
for kv in 32 8; do for c in 8192 32768 131072; do
  echo "== kv $kv context $c" >> $O/trace.txt
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 3 2>> $O/trace.txt >/dev/null
done; done
cat $O/trace.txt
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch $1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --iters 30; }
for v in "cluster spread" "cluster balance" "split spread"; do set -- $v
  for kv in 32 8; do for c in 8192 32768 131072; do
    ADAMAS_STEP=$1 ADAMAS_STEP_SCHEDULE=$2 run 1 $kv $c | sed "s/}$/, \"tag\": \"$1_$2\"}/" >> $O/step.jsonl
  done; done
  ADAMAS_STEP=$1 ADAMAS_STEP_SCHEDULE=$2 run 8 32 32768 | sed "s/}$/, \"tag\": \"$1_$2\"}/" >> $O/step.jsonl
done
python3 -c "
import json,collections
t=collections.OrderedDict(); tags=[]
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l)
  if r['tag'] not in tags: tags.append(r['tag'])
  t.setdefault((r['batch'], r['kv_heads'], r['context']), {})[r['tag']]=r['total_us']
print('batch kv context |', *tags)
for k,v in t.items(): print(*k, '|', *[v.get(x) for x in tags])
"
el bench
tar czf $OUT/c5.tgz -C $O .
