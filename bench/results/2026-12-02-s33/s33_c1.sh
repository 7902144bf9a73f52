#!/usr/bin/env bash
# Session 33, call 1. fin = main (eea056d); hpre = the row's other blocks' histogram words staged in
# shared memory by cp.async while the block publishes its own (one-head kernels of 2 blocks per SM);
# ptk = the row's ticket taken after the lists, its round trip during the attention, the partials
# polled word by word by the merging block; both = hpre + ptk; diag = fin with a block barrier
# before the "share" stamp in traced launches (every warp's row cut done).
set -u
source bench/device_ab_lib.sh
ab_setup c1
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv,noheader > $O/gpu.txt
steps='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*'
ab_step_tests fin "$steps" fin_steps
el tests-fin
for v in hpre ptk both; do ab_step_tests $v "$steps" ${v}_steps; el tests-$v; done
for rep in 1 2 3; do for v in fin hpre ptk both; do for s in "32 32768" "32 131072"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for v in fin ptk both; do ab_iso $v 8 32768; ab_iso $v 8 131072; ab_iso $v 32 8192; done | tee -a $O/iso.txt
el iso
for v in fin diag hpre ptk both; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
