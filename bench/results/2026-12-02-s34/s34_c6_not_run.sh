#!/usr/bin/env bash
# Session 34, call 6. thr = main + ADAMAS_GRID_THROTTLE: the first block on a multiprocessor (a
# ticket on %smid) sleeps that many ns before every other scan round's loads, where the grid is two deep.
set -u
source bench/device_ab_lib.sh
ab_setup c6
iso() { local v=$1; shift; if [ "${v#thr}" != "$v" ] && [ -n "${v#thr}" ]; then ADAMAS_GRID_THROTTLE=${v#thr} ab_iso thr "$@" | sed "s/iso thr/iso $v/"; else ab_iso $v "$@"; fi; }
for rep in 1 2; do for v in fin thr thr250 thr500 thr1000; do for s in "32 32768" "32 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
export ADAMAS_GRID_THROTTLE=500 AB_TEST_LIMIT=40
ab_step_tests thr 'Shapes/GridStepTest.*f16_d128_q32_kv32*:Shapes/GridStepTest.*q24*:Steps/StepSkewedSelectionTest.*grid*' thr_steps
el tests
