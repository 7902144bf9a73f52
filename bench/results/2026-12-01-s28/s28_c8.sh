#!/usr/bin/env bash
# Session 28, call 8. fin = main at a6ff0d4 (executables and library); cg = fin with the one-head
# compaction's write round skipping the tie ranks where a tile's ties all lie on one side of the
# first taken one (a REDUX instead of a prefix sum of shuffles). The step tests on cg; the isolated
# MHA step alternating; LongChat-7B end to end.
set -u
for t in fin cg; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
cp -n /tmp/fin/* /tmp/cg/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c8.tgz -C $O .; }
trap finish EXIT
B=/tmp/fin/adamas_cuda_bench
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
F='*GridStep*:*ClusterStep*:*StepCurrentToken*:*StepSkewed*:*DecodePlan*'
for i in $(seq 0 11); do GTEST_TOTAL_SHARDS=12 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 run_as cg timeout 120 /tmp/fin/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$F" > $O/tests_$i.log 2>&1 & done; wait
grep -h "^\[  PASSED  \]\|^\[  FAILED  \]" $O/tests_*.log | awk '{print $1, $2, $3, $4}' | sort | uniq -c
el tests
iso() { run_as $1 timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in fin cg; do for s in "32 8192" "32 32768" "32 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
e2e() { local v=$1 c=$2 tag=$3
  run_as $v timeout 100 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_$tag.json 2>$O/e2e_${v}_${c}_$tag.err || tail -2 $O/e2e_${v}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for rep in a b; do for v in fin cg; do e2e $v 32768 $rep; e2e $v 131072 $rep; done; done 2>&1 | tee $O/e2e.txt
el e2e
