#!/usr/bin/env bash
# session 23 call 6 (nvidia-h200; diagnosis, library as committed): Nsight Compute on the isolated grid
# step, MHA 32/32 at 32K and 128K, budget 256: warp states (stall reasons) and the SASS with its
# stall samples, to place the step's time after the scan.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
ncu --version | tail -1
for ctx in 32768 131072; do
  timeout 200 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 --set full --import-source no -o /tmp/ncu_$ctx \
    $B --batch 1 --q-heads 32 --kv-heads 32 --context $ctx --budgets 256 --policies adamas --estimators l1 --iters 3 > $O/ncu_run_$ctx.log 2>&1
  echo "ncu rc $? ($ctx)"; tail -3 $O/ncu_run_$ctx.log
  ncu --import /tmp/ncu_$ctx.ncu-rep --page details --print-details all > $O/ncu_details_$ctx.txt 2>&1
  ncu --import /tmp/ncu_$ctx.ncu-rep --page source --csv --print-source sass > $O/ncu_sass_$ctx.csv 2>$O/ncu_sass_$ctx.err || \
    ncu --import /tmp/ncu_$ctx.ncu-rep --page source --csv > $O/ncu_sass_$ctx.csv 2>>$O/ncu_sass_$ctx.err
  ls -la $O/ncu_sass_$ctx.csv; head -c 600 $O/ncu_sass_$ctx.csv; echo
  grep -E "Duration|Stall|stall|No Instruction|Warp Cycles Per Issued|Issued Warp|Registers Per" $O/ncu_details_$ctx.txt | head -40
  el "ncu $ctx"
done
xz -T4 $O/*.csv
tar czf $OUT/c6.tgz -C $O .
