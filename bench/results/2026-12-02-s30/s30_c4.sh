#!/usr/bin/env bash
# Session 30, call 4. fin = main at 787a0ae (executables and library); rc = fin's library with the
# one-head grid kernels' row cut done by the whole block in one round of L2 loads (row_cut_block,
# falling back to the warp's windows). The step tests on rc; the isolated step alternating; stamps;
# LongChat-7B end to end.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
cp -n /tmp/fin/* /tmp/rc/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c4.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
F='*GridStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*:*SelectAttention*'
for i in $(seq 0 15); do GTEST_TOTAL_SHARDS=16 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as rc timeout 150 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > $O/tests_$i.log 2>&1 & done; wait
grep -h "^\[  PASSED  \]\|^\[  FAILED  \]" $O/tests_*.log | awk '{print $1, $2, $3, $4}' | sort | uniq -c
grep -h "FAILED  \]" $O/tests_*.log | head -5
el tests
iso() { local v=$1 kv=$2 c=$3
  run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in fin rc; do for s in "32 8192" "32 32768" "32 131072" "8 32768"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in fin rc; do for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_${v}_$c.csv run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_$c.txt 2>&1
  python3 bench/stamps_summary.py $O/stamps_${v}_$c.csv > $O/summary_${v}_$c.txt 2>&1
done; done
grep -h "row met\|threshold\|merged" $O/trace_*.txt
el stamps
e2e() { local v=$1 c=$2 tag=$3
  run_as $v timeout 60 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_$tag.json 2>$O/e2e_${v}_${c}_$tag.err || tail -2 $O/e2e_${v}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for rep in a b; do for v in fin rc; do [ $(( $(date +%s) - t0 )) -lt 500 ] && e2e $v 32768 $rep && e2e $v 131072 $rep; done; done 2>&1 | tee $O/e2e.txt
el e2e
