#!/usr/bin/env bash
# session 14 call 1: the scan probe (bench/probes/scan_probe.cu) at page 16 and 256; ncu source-level
# stall profile of the grid step's scan (ADAMAS_STEP_PROBE=1) at MHA 128K; the real scan alone for scale
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader
nvcc -O3 -std=c++20 -arch=sm_90a -o /tmp/scan_probe bench/probes/scan_probe.cu && el built
for p in 16 256; do /tmp/scan_probe $p | tee -a $O/probe.jsonl; done
el probe
B=/tmp/bin/adamas_cuda_bench
for step in grid auto; do for pr in 0 1; do
  ADAMAS_STEP=$step ADAMAS_STEP_PROBE=$pr timeout 40 $B --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --budgets 256 --policies adamas --estimators l1 --iters 50 | grep total | sed "s/^{/{\"step\": \"$step\", \"probe\": $pr, /" | tee -a $O/real.jsonl | cut -c1-200
done; done
el real
ADAMAS_STEP=grid ADAMAS_STEP_PROBE=1 timeout 200 ncu --clock-control none --kernel-name regex:"grid_step" --launch-count 1 --section SourceCounters --section WarpStateStats --section SchedulerStats --section InstructionStats --import-source no -o /tmp/ncu_src \
  $B --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --budgets 256 --policies adamas --iters 1 > /tmp/ncu_run.log 2>&1; echo "ncu rc $?"
tail -3 /tmp/ncu_run.log
ncu --import /tmp/ncu_src.ncu-rep > $O/ncu_src_details.txt 2>&1
ncu --import /tmp/ncu_src.ncu-rep --page source --csv --print-source sass > $O/ncu_src_sass.csv 2>&1; echo "source rc $?"
wc -l $O/ncu_src_sass.csv; head -3 $O/ncu_src_sass.csv | cut -c1-400
el ncu
tar czf $OUT/c1.tgz -C $O .
