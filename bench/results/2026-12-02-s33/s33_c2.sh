#!/usr/bin/env bash
# Session 33, call 2. fin = main (eea056d); ptk2 = call 1's ptk with the merging block's loads in one
# round trip (the first group's values requested with the maxima) and 16-byte resets of the
# partials; diag2 = fin with five more stamps (compaction's passes, the cache rows, the merge's math).
set -u
source bench/device_ab_lib.sh
ab_setup c2
ab_step_tests ptk2 '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*' ptk2_steps
el tests-ptk2
for rep in 1 2 3; do for v in fin ptk2; do for s in "32 32768" "32 131072" "8 32768" "8 131072"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in diag2 ptk2; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
