#!/usr/bin/env bash
# Session 32, call 2. fin = main at 8c934c9; b4 = attend_rows batches of 4 positions a warp (8-byte
# lane slices: fp16/bf16 d 128), so that the once-a-launch attention code is half as long; b4dry = b4
# with the warp's first batch run twice through one copy of the code, first over zero rows while its
# loads fly (its instructions fetched then); plain = b4 with ADAMAS_STEP_GATHER=plain (no K/V L2
# prefetch: with batches of 4 every block's rows are one round of loads).
set -u
source bench/device_ab_lib.sh
ab_setup c2
ab_step_tests b4 '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*' b4_steps
ab_step_tests b4dry '*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*' b4dry_steps
el tests
iso() { if [ "$1" = plain ]; then ADAMAS_STEP_GATHER=plain ab_iso b4 $2 $3 | sed 's/iso b4/iso plain/'; else ab_iso "$@"; fi; }
for rep in 1 2 3; do for v in fin b4 b4dry plain; do for s in "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for v in fin b4 b4dry plain; do iso $v 32 8192; done | tee -a $O/iso.txt
el iso
tar czf $OUT/c2_partial.tgz -C $O .
for v in fin b4 b4dry; do for c in 32768 131072; do ab_trace $v $c; done; done
grep -H "scan ends\|threshold\|lists \|attended\|partials in\|merged" $O/trace_*_32768.txt
el traces
for v in b4 b4dry; do
  run_as $v timeout 100 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 \
    --section WarpStateStats --section SourceCounters --import-source no -o /tmp/ncu_$v \
    /tmp/fin/adamas_cuda_bench --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas \
    --estimators l1 --iters 3 > $O/ncu_run_$v.log 2>&1
  ncu --import /tmp/ncu_$v.ncu-rep --page source --csv --print-source sass 2>/dev/null | xz -T2 > $O/ncu_sass_$v.csv.xz
  python3 scripts/ncu_phase_stalls.py $O/ncu_sass_$v.csv.xz > $O/ncu_phases_$v.txt 2>&1; sed -n 3,14p $O/ncu_phases_$v.txt
done
el ncu
