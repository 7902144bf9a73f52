#!/usr/bin/env bash
# session 8 call 9: cluster step with scan units handed out from a cluster counter (work stealing): tests, stamps, bench
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
F='Shapes/SelectAttentionTest.*:Shapes/ClusterStep*'
for i in $(seq 0 15); do OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i timeout 200 $T --gtest_brief=1 --gtest_filter="$F" > $O/t_$i.log 2>&1 & done
wait
grep -h "^\[  PASSED  \]" $O/t_*.log | awk '{s += $4} END {print "passed", s}'; grep -h "FAILED  \]" $O/t_*.log | head; echo "unfinished: $(grep -L 'tests ran\|PASSED\|FAILED' $O/t_*.log | wc -l)"; grep -h -B2 -A8 "Failure" $O/t_*.log | head -24
el tests
for v in "32 131072" "32 32768" "8 131072" "8 32768"; do set -- $v
  echo "== kv $1 context $2" >> $O/trace.txt
  ADAMAS_STEP=cluster ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --iters 3 2>> $O/trace.txt >/dev/null
done
cat $O/trace.txt
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch $1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --iters 30; }
for v in cluster split; do
  for kv in 32 8; do for c in 8192 32768 131072; do
    ADAMAS_STEP=$v run 1 $kv $c | sed "s/}$/, \"tag\": \"$v\"}/" >> $O/step.jsonl
  done; done
  for kv in 32 8; do ADAMAS_STEP=$v run 8 $kv 32768 | sed "s/}$/, \"tag\": \"$v\"}/" >> $O/step.jsonl; done
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
tar czf $OUT/c9.tgz -C $O .
