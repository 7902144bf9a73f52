#!/usr/bin/env bash
# Session 32, call 6. fin = main (the code of 5eeef26); bpre = fin with the one-head compaction's list
# offsets from ballots of the count's bit planes instead of a six-shuffle prefix sum.
set -u
source bench/device_ab_lib.sh
ab_setup c6
ab_step_tests bpre '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*' bpre_steps
el tests
for rep in 1 2 3 4; do for v in fin bpre; do for s in "32 32768" "32 131072"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for v in fin bpre; do ab_iso $v 8 32768; ab_iso $v 32 8192; done | tee -a $O/iso.txt
el iso
for v in fin bpre; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
