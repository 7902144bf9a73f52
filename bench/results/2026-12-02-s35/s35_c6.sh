#!/usr/bin/env bash
# Session 35, call 6. fin = main's kernels at 6339dcb (stage_row's order changed). thr = fin + session
# 34's throttle (ADAMAS_GRID_THROTTLE=ns: the first block on a multiprocessor sleeps every other round).
set -u
source bench/device_ab_lib.sh
ab_setup c6
iso() { local v=$1; shift; if [ "${v#thr}" != "$v" ] && [ -n "${v#thr}" ]; then ADAMAS_GRID_THROTTLE=${v#thr} ab_iso thr "$@" | sed "s/iso thr/iso $v/"; else ab_iso $v "$@"; fi; }
for rep in 1 2; do for v in fin thr250 thr500 thr1000 thr2000; do for s in "32 32768" "32 131072" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
ADAMAS_GRID_THROTTLE=500 AB_TEST_LIMIT=60 ab_step_tests thr '*GridStep*:*StepSkewed*:*StepCurrentToken*' thr500_steps
el tests-thr
ADAMAS_GRID_THROTTLE=500 ab_trace thr 131072; sed -n 2,16p $O/trace_thr_131072.txt | cut -c1-70
el trace
