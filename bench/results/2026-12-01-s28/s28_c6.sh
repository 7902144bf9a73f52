#!/usr/bin/env bash
# Session 28, call 6. bin = main (e0581b5); ce = the compaction by paired subtractions
# (src/cuda/pair_compare.h) in the kernels of one head a row only (compact_block<HEADS == 1>), its
# span length through a shuffle: the 4-head kernels' SASS equals main's, the one-head scan loops'
# opcodes too. (1) the GPU suite on ce, memcheck and racecheck over the one-head step tests;
# (2) the isolated step alternating; (3) end to end, LongChat-7B and Llama-3-8B.
set -u
for t in bin ce; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
cp -n /tmp/bin/* /tmp/ce/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c6.tgz -C $O .; }
trap finish EXIT
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    ce) LD_LIBRARY_PATH=/tmp/ce:/usr/local/cuda/lib64 "$@" ;;
  esac; }
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/ce $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
MEM='Shapes/GridStepTest.*f16_d128_q4_kv4*:Shapes/GridStepTest.*bf16_d64_q4_kv4*:Shapes/ClusterStepTest.*f16_d128_q4_kv4*:Steps/StepSkewedSelectionTest.*:Steps/StepCurrentTokenTest.*'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i LD_LIBRARY_PATH=/tmp/ce:/usr/local/cuda/lib64 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 /tmp/ce/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$MEM" > $O/memcheck_$i.log 2>&1 & done; wait
RACE='Shapes/GridStepTest.MatchesReference/f16_d128_q4_kv4*:Shapes/ClusterStepTest.MatchesReference/f16_d64_q4_kv4*:Steps/StepSkewedSelectionTest.*/grid'
for i in 0 1 2 3; do GTEST_TOTAL_SHARDS=4 GTEST_SHARD_INDEX=$i LD_LIBRARY_PATH=/tmp/ce:/usr/local/cuda/lib64 timeout 150 compute-sanitizer --tool racecheck --error-exitcode 1 /tmp/ce/adamas_cuda_tests --gtest_brief=1 --gtest_filter="$RACE" > $O/racecheck_$i.log 2>&1 & done; wait
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED\|FAILED" $O/memcheck_*.log $O/racecheck_*.log
el sanitizers
iso() { run_as $1 timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in base ce; do for s in "32 8192" "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
e2e() { local v=$1 shape=$2 c=$3 tag=$4
  run_as $v timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape $shape > $O/e2e_${v}_${shape}_${c}_$tag.json 2>$O/e2e_${v}_${shape}_${c}_$tag.err || tail -2 $O/e2e_${v}_${shape}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_${c}_$tag.json'))
for r in d['rows']: print('$shape $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for rep in a b c; do for v in base ce; do e2e $v longchat-7b 32768 $rep; e2e $v longchat-7b 131072 $rep; done; done 2>&1 | tee $O/e2e.txt
for rep in a b; do for v in base ce; do e2e $v llama3-8b 32768 $rep; done; done 2>&1 | tee -a $O/e2e.txt
el e2e
