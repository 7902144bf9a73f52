#!/usr/bin/env bash
# Session 33, call 6. fin = main (eea056d); cut1 = the row cut and the block's share worked out by
# warp 0 alone and passed through shared memory at a barrier, instead of by every warp.
set -u
source bench/device_ab_lib.sh
ab_setup c6
ab_step_tests cut1 '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' cut1_steps
el tests-cut1
for rep in 1 2 3; do for v in fin cut1; do for s in "32 32768" "32 131072" "8 32768" "8 131072"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in fin cut1; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
