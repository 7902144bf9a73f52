#!/usr/bin/env bash
# Session 32, call 3. fin = main at 8c934c9 (executables, the adamas CLI, library); b4g = attend_rows
# batches of 4 positions a warp with more than one head a row (GQA); cmp = b4g with compact_block's
# first pass four tiles at a time and a mask of the tiles with candidates for its second pass.
set -u
source bench/device_ab_lib.sh
ab_setup c3
F='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*ClusterStep*'
ab_step_tests b4g "$F" b4g_steps
ab_step_tests cmp "$F" cmp_steps
el tests
for rep in 1 2 3; do for v in fin b4g cmp; do for s in "32 32768" "32 131072" "8 32768" "8 131072"; do ab_iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
for v in fin b4g cmp; do ab_iso $v 32 8192; ab_iso $v 8 8192; done | tee -a $O/iso.txt
el iso
tar czf $OUT/c3_partial.tgz -C $O .
for v in fin cmp; do for c in 32768 131072; do ab_trace $v $c; done; done
el traces
e2e() { local v=$1 c=$2 shape=$3
  run_as $v timeout 80 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape $shape > $O/e2e_${v}_${shape}_$c.json 2>$O/e2e_${v}_${shape}_$c.err || tail -2 $O/e2e_${v}_${shape}_$c.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_$c.json'))
for r in d['rows']: print('e2e $v $shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for c in 32768 131072; do for v in fin cmp; do [ $(( $(date +%s) - AB_T0 )) -lt 450 ] && e2e $v $c llama3-8b; done; done 2>&1 | tee $O/e2e.txt
el e2e
