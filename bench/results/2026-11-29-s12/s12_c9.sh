#!/usr/bin/env bash
# session 12 call 9: dense warp-split attention with the q.k pieces rotated by part & 2 (no bank
# conflicts in a quarter warp at d 128 fp16) against cuDNN SDPA in the same run; ncu's shared
# excess wavefronts again; the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
$B --copy-bandwidth > $O/dense.jsonl
for kv in 32 8; do for c in 32768 131072; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full,adamas --iters 50 >> $O/dense.jsonl
done; done
el bench
python3 bench/sdpa_baseline.py --adamas $O/dense.jsonl --command "s12_c9.sh" --out $O/dense_vs_cudnn.md | tail -8
el sdpa
timeout 120 ncu --clock-control none --kernel-name regex:"dense_warp_split" --launch-count 1 --set full --import-source no -o /tmp/ncu_32 \
  $B --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies full --iters 1 > /tmp/ncu_run.log 2>&1
ncu --import /tmp/ncu_32.ncu-rep > $O/ncu_dense_32_c9.txt 2>&1
grep -E "Duration|DRAM Through|Issued Warp|excessive|bank" $O/ncu_dense_32_c9.txt | head -8
el ncu
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
tar czf $OUT/c9.tgz -C $O .
