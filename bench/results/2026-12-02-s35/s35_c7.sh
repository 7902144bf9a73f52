#!/usr/bin/env bash
# Session 35, call 7. fin = main's kernels (6339dcb). pf = fin + session 34's page-table row asked of
# L2 at each block's start (prefetch_page_row.patch.txt), now that the page ids gate the first code
# loads directly (stage_row's new order).
set -u
source bench/device_ab_lib.sh
ab_setup c7
for rep in 1 2 3; do for v in fin pf; do for s in "32 32768" "32 131072" "8 32768" "8 131072" "32 8192"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
ab_trace pf 32768; sed -n 2,12p $O/trace_pf_32768.txt | cut -c1-60
el trace
AB_TEST_LIMIT=80 ab_step_tests pf '*GridStep*:*ClusterStep*:*StepCurrentToken*:*StepSkewed*' pf_steps
el tests
