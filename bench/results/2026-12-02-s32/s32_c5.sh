#!/usr/bin/env bash
# Session 32, call 5: Nsight Compute's per-instruction stall samples of main's one-head grid step
# (the library of 5eeef26) at MHA 128K, for the compaction phase's time (share -> lists, 3 us).
set -u
source bench/device_ab_lib.sh
ab_setup c5
for c in 131072; do
  run_as fin timeout 150 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 \
    --section WarpStateStats --section SourceCounters --import-source no -o /tmp/ncu_$c \
    /tmp/fin/adamas_cuda_bench --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas \
    --estimators l1 --iters 3 > $O/ncu_run_$c.log 2>&1
  echo "ncu rc $? ($c)"
  ncu --import /tmp/ncu_$c.ncu-rep --page source --csv --print-source sass 2>/dev/null | xz -T2 > $O/ncu_sass_$c.csv.xz
  python3 scripts/ncu_phase_stalls.py $O/ncu_sass_$c.csv.xz > $O/ncu_phases_$c.txt 2>&1; sed -n 2,16p $O/ncu_phases_$c.txt
done
el ncu
