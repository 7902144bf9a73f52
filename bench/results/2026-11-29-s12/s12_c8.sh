#!/usr/bin/env bash
# session 12 call 8 (diagnosis for issue 3, nothing changed): ncu of the dense warp-split attention
# kernel at 32K, MHA 32/32 and GQA 32/8, with its timing beside it
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies full --iters 50 | tee -a $OUT/dense_c8.jsonl | cut -c1-400
  timeout 120 ncu --clock-control none --kernel-name regex:"dense_warp_split" --launch-count 1 --set full --import-source no -o /tmp/ncu_$kv \
    $B --batch 1 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies full --iters 1 > /tmp/ncu_run_$kv.log 2>&1
  ncu --import /tmp/ncu_$kv.ncu-rep > $OUT/ncu_dense_$kv.txt 2>&1
  grep -E "void|Duration|DRAM Through|Memory Through|Registers Per|Achieved Occ|Theoretical Occ|Issued Warp|Eligible Warps|No Eligible|Stall|L1/TEX Hit|Block Limit|Shared Memory Configuration|Dynamic Shared" $OUT/ncu_dense_$kv.txt | head -40
done
