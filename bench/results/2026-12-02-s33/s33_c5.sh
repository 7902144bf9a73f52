#!/usr/bin/env bash
# Session 33, call 5. fin = main (eea056d); pad = fin with 256 independent adds (8 chains) of
# run-once code before the compaction (a diagnostic of what run-once code costs on the chain);
# grp8 = fin with merge_partials' loads 8 a lane instead of 16 where a row has at most 8 blocks.
set -u
source bench/device_ab_lib.sh
ab_setup c5
ab_step_tests grp8 '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' grp8_steps
el tests-grp8
for rep in 1 2 3; do for v in fin pad grp8; do for s in "32 32768" "32 131072"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in fin pad grp8; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
