#!/usr/bin/env bash
# session 17 call 1 (nvidia-h200): where the dense kernel's fixed time goes. Context sweep of our dense
# attention and cuDNN's (GQA 32/8 and MHA, 1K-128K), ncu of dense_mma_kernel and of cuDNN's kernels
# at GQA 32K, the cluster step's phase trace at 32K and 128K
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
att() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r["attend_us"], r.get("total_us"))'; }
for kv in 8 32; do for c in 1024 2048 4096 8192 16384 32768 65536 131072; do
  echo "ours kv $kv context $c $($B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 | att)"
  echo "ours-readflush kv $kv context $c $(ADAMAS_BENCH_FLUSH=read $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 | att)"
done; done | tee $O/sweep.txt
el sweep
python3 bench/results/2026-11-30-s17/sdpa_sweep.py 2>&1 | tee $O/sdpa_sweep.txt
ADAMAS_BENCH_FLUSH=read python3 bench/results/2026-11-30-s17/sdpa_sweep.py 2>&1 | sed 's/^cudnn/cudnn-readflush/' | tee -a $O/sdpa_sweep.txt
el sdpa
timeout 120 ncu --clock-control none -k regex:dense_mma --launch-count 1 --set full $B --iters 3 --batch 1 --q-heads 32 --kv-heads 8 --context 32768 --budgets 256 --policies full --estimators l1 > $O/ncu_dense_mma_32k.txt 2>&1
timeout 120 ncu --clock-control none -k regex:dense_mma --launch-count 1 --set full $B --iters 3 --batch 1 --q-heads 32 --kv-heads 8 --context 8192 --budgets 256 --policies full --estimators l1 > $O/ncu_dense_mma_8k.txt 2>&1
timeout 120 ncu --clock-control none --set full python3 bench/results/2026-11-30-s17/cudnn_once.py > $O/ncu_cudnn_32k.txt 2>&1
el ncu
for c in 32768 131072; do
  ADAMAS_STEP_VERBOSE=1 ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_$c.jsonl 2> $O/trace_$c.txt
  for p in 1 2 3; do echo "probe $p context $c $(ADAMAS_STEP_PROBE=$p $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 | att)"; done
done | tee $O/probes.txt
tail -n 30 $O/trace_*.txt
el trace
grep -E "dense_mma|Duration|DRAM Throughput|Memory Throughput|Registers Per|Grid Size|Block Size|Achieved Occupancy|Dynamic Shared|Static Shared" $O/ncu_dense_mma_32k.txt | head -30
grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Registers Per|Grid Size|Block Size|Shared Memory Config|Dynamic Shared|Static Shared|Cluster Size" $O/ncu_cudnn_32k.txt | head -80
tar czf $OUT/c1.tgz -C $O .
