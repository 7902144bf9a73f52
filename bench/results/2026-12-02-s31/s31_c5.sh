#!/usr/bin/env bash
# Session 31, call 5: the whole GPU suite on a5965ea's library (nobar2 with fin's executables and
# the test binary that has GridStepTest.ReusedPlanMatchesReference); first use of device_ab_lib.sh.
set -u
source bench/device_ab_lib.sh
ab_setup c5
mkdir -p /tmp/nobar2_all; cp /tmp/fin/* /tmp/nobar2_all/; cp /tmp/nobar2/libadamas.so /tmp/nobar2_all/
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/nobar2_all $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED  \]" $O/checks/tests_*.log | sort -u | head -5
el suite
