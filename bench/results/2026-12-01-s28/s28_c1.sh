#!/usr/bin/env bash
# Session 28, call 1. bin = main (e0581b5) executables and library, plus bench/probes/code_fetch_probe;
# cx = an experiment library: the grid step asks L2 for its own code (ADAMAS_STEP_CODE=KB, 0 = off;
# the kernel's address is taken by a helper kernel, which moved the scan loop: 1231 against 1160
# instructions, so cx with 0 is its own baseline).
# (1) the probe; (2) the GPU suite on main (not run since e0581b5); (3) the isolated step alternating;
# (4) LongChat-7B 32K end to end.
set -u
for t in bin cx; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c1.tgz -C $O .; }
trap finish EXIT
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    cx*) ADAMAS_STEP_CODE=${v#cx} LD_LIBRARY_PATH=/tmp/cx:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
  esac; }
timeout 60 /tmp/bin/code_fetch_probe 2>&1 | tee $O/probe.txt
el probe
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
iso() { run_as $1 timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3; do for v in base cx0 cx128 cx256; do for s in "32 32768" "32 131072" "8 32768"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for spec in "cx0 32 32768" "cx128 32 32768" "cx0 32 131072" "cx128 32 131072"; do
  set -- $spec
  f=$O/stamps_$1_kv$2_$3.csv
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$f run_as $1 timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 > $O/trace_$1_kv$2_$3.txt 2>&1
  python3 bench/stamps_summary.py $f > $O/summary_$1_kv$2_$3.txt 2>&1
done
el stamps
e2e() { local v=$1 pol=$2 tag=$3
  run_as $v timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_${v}_$tag.json 2>$O/e2e_${v}_$tag.err || tail -2 $O/e2e_${v}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
e2e base full,adamas a 2>&1 | tee $O/e2e.txt
for rep in b c; do for v in base cx0 cx128; do e2e $v adamas $rep; done; done 2>&1 | tee -a $O/e2e.txt
el e2e
