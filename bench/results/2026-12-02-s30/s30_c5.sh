#!/usr/bin/env bash
# Session 30, call 5. fin = main at 787a0ae; rc8 = fin's library with the one-head grid kernels'
# row_cut compiled for at most 8 blocks a row instead of 32 (216 fewer instructions after the scan,
# scan loop identical; an experiment: rows of more than 8 blocks would be cut wrongly, so no tests).
# The isolated step alternating, and stamps.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
cp -n /tmp/fin/* /tmp/rc8/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c5.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
iso() { local v=$1 kv=$2 c=$3
  run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $v kv$kv c$c total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in fin rc8; do for s in "32 8192" "32 32768" "32 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for v in fin rc8; do for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_${v}_$c.csv run_as $v timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_$c.txt 2>&1
done; done
grep -h "row met\|threshold\|merged" $O/trace_*.txt
el stamps
