#!/usr/bin/env bash
# Session 33, call 3. fin = main (eea056d); cmp2 = the one-head compaction with every tile of a warp
# ranked at once (compact_block_pairs, __noinline__ so that the scan loop keeps its layout).
set -u
source bench/device_ab_lib.sh
ab_setup c3
ab_step_tests cmp2 '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*:*PairCompare*' cmp2_steps
el tests-cmp2
for rep in 1 2 3; do for v in fin cmp2; do for s in "32 32768" "32 131072" "32 8192"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for v in fin cmp2; do ab_iso $v 8 32768; done | tee -a $O/iso.txt
el iso
for v in fin cmp2; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
