#!/usr/bin/env bash
# session 8 call 2: cluster step after batching the remote reads and page lookups: smoke tests, occupancy,
# 2 vs 3 blocks per SM against the split step, ncu of the cluster kernel at MHA 32K and 128K
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
T=/tmp/bin/adamas_cuda_tests
B=/tmp/bin/adamas_cuda_bench
for blocks in 3 2; do
  ADAMAS_STEP_BLOCKS=$blocks OMP_NUM_THREADS=16 timeout 120 $T --gtest_brief=1 --gtest_filter='Shapes/SelectAttentionTest.*f16_d128_q8_kv2*:Shapes/SelectAttentionTest.*f16_d64_q4_kv2*:Shapes/ClusterStepTest.*q32_kv32*:Shapes/SelectAttentionTest.*bf16_d256_q4_kv4*' > $O/smoke_$blocks.log 2>&1
  echo "smoke blocks $blocks rc $?"; grep -h -B2 -A8 "Failure" $O/smoke_$blocks.log | head -20; tail -2 $O/smoke_$blocks.log
done
el smoke
for v in "cluster 3" "cluster 2" "split 3"; do set -- $v
  for kv in 32 8; do for c in 8192 32768 131072; do
    ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP=$1 ADAMAS_STEP_BLOCKS=$2 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 64,256,1024 --policies adamas --iters 30 >> $O/step_$1_$2.jsonl 2>> $O/verbose.txt
  done; done
  ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP=$1 ADAMAS_STEP_BLOCKS=$2 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 8 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --iters 20 >> $O/step_$1_$2.jsonl 2>> $O/verbose.txt
done
sort $O/verbose.txt | uniq -c
python3 -c "
import json,collections
t=collections.OrderedDict()
for v in ['cluster_3','cluster_2','split_3']:
  for l in open('/tmp/o/step_%s.jsonl'%v):
    r=json.loads(l)
    if 'policy' in r: t.setdefault((r['batch'], r['kv_heads'], r['context'], r['budget']), {})[v]=r['total_us']
print('batch kv context budget | cluster3 cluster2 split')
for k,v in t.items(): print(*k, '|', v.get('cluster_3'), v.get('cluster_2'), v.get('split_3'))
"
el bench
for c in 32768 131072; do
  timeout 100 ncu --clock-control none --kernel-name regex:"adamas_step" --launch-count 1 --set full --import-source yes -o $O/ncu_step_$c \
    $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 2 > /dev/null 2>&1
  ncu --import $O/ncu_step_$c.ncu-rep > $O/ncu_step_$c.txt 2>&1
  ncu --import $O/ncu_step_$c.ncu-rep --page source --csv --print-source sass > $O/ncu_src_$c.csv 2>&1
  grep -E "Duration|DRAM Through|Registers Per|Achieved Occ|Theoretical Occ|Issued Warp|No Eligible|Block Limit|Cluster|Waves" $O/ncu_step_$c.txt | head -30
done
el ncu
rm -f $O/*.ncu-rep
tar czf $OUT/c2.tgz -C $O .
