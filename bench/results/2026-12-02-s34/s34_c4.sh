#!/usr/bin/env bash
# Session 34, call 4. fin = main (10ae6b9; kernels of 5769bb0, the row cut by one warp): the whole GPU
# suite, the table of record, Llama-3-8B end to end. cc = main + the cluster step's cut by one warp
# (bench/results/2026-12-02-s33/cluster_cut_one_warp.patch.txt): its tests and MHA 8K.
set -u
source bench/device_ab_lib.sh
ab_setup c4
PARTS=tests LIMIT=250 bash bench/run_gpu_checks.sh /tmp/fin $O/checks 16 > $O/checks.log 2>&1
tail -1 $O/checks.log; grep -h "FAILED  \]" $O/checks/tests_*.log | sort -u | head -5
el checks
tar czf $OUT/c4_partial.tgz -C $O .
ab_step_tests cc '*ClusterStep*:*StepCurrentToken*:*StepSkewed*' cc_steps
el cc-tests
for rep in 1 2 3; do for v in fin cc; do ab_iso $v 32 8192; ab_iso $v 8 8192; done; done 2>&1 | tee $O/iso.txt
el iso
