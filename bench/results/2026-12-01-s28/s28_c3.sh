#!/usr/bin/env bash
# Session 28, call 3: Nsight Compute's stall samples of main's grid step (MHA 32/32, budget 256) at 128K
# and 32K, summed by phase (scripts/ncu_phase_stalls.py): where the compaction's 3.6 us at 128K go.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c3.tgz -C $O .; }
trap finish EXIT
B=/tmp/bin/adamas_cuda_bench
for c in 131072 32768; do
  timeout 200 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 --set full --import-source no -o /tmp/ncu_$c \
    $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 --iters 3 > $O/ncu_run_$c.log 2>&1
  ncu --import /tmp/ncu_$c.ncu-rep --page source --csv --print-source sass > $O/ncu_sass_$c.csv 2>/dev/null
  ncu --import /tmp/ncu_$c.ncu-rep --page details --print-details all > $O/ncu_details_$c.txt 2>&1
  grep -E "Duration" $O/ncu_details_$c.txt | head -2
  python3 scripts/ncu_phase_stalls.py $O/ncu_sass_$c.csv > $O/phases_$c.txt 2>&1; cat $O/phases_$c.txt | head -40
  xz -T4 $O/ncu_sass_$c.csv
  el ncu $c
done
