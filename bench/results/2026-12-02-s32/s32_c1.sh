#!/usr/bin/env bash
# Session 32, call 1. fin = main at 8c934c9 (executables and library); spage = fin's library with the
# span's page ids staged in shared memory (cp.async at set-up) for the attention's page-table reads;
# spagepf = spage with the K/V L2 prefetches issued from the compaction's list writes; persist =
# spage run with ADAMAS_STEP_PERSIST=1 (the page table in L2's persisting set-aside).
set -u
source bench/device_ab_lib.sh
ab_setup c1
ab_step_tests spage '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' spage_steps
ab_step_tests spagepf '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*' spagepf_steps
el tests
iso() { if [ "$1" = persist ]; then ADAMAS_STEP_PERSIST=1 ab_iso spage $2 $3 | sed 's/iso spage/iso persist/'; else ab_iso "$@"; fi; }
for rep in 1 2 3; do for v in fin spage spagepf persist; do for s in "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for v in fin spage spagepf persist; do iso $v 32 8192; done | tee -a $O/iso.txt
el iso
tar czf $OUT/c1_partial.tgz -C $O .
for v in fin spage spagepf; do for c in 32768 131072; do ab_trace $v $c; done; done
grep -h "scan ends\|threshold\|lists \|attended\|partials in\|merged" $O/trace_*_32768.txt
el traces
# Nsight Compute: every SASS instruction's stall samples of fin's one-head step at 32K and 128K.
for c in 32768; do
  run_as fin timeout 150 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 \
    --section WarpStateStats --section SourceCounters --import-source no -o /tmp/ncu_$c \
    /tmp/fin/adamas_cuda_bench --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas \
    --estimators l1 --iters 3 > $O/ncu_run_$c.log 2>&1
  echo "ncu rc $? ($c)"
  ncu --import /tmp/ncu_$c.ncu-rep --page source --csv --print-source sass 2>$O/ncu_sass_$c.err | xz -T2 > $O/ncu_sass_$c.csv.xz
  python3 scripts/ncu_phase_stalls.py $O/ncu_sass_$c.csv.xz > $O/ncu_phases_$c.txt 2>&1; head -30 $O/ncu_phases_$c.txt
done
el ncu
