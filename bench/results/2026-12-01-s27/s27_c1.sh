#!/usr/bin/env bash
# Session 27, call 1. base = libadamas.so of main (kernels of 280f0bc; host-side trace file added in
# s26); wv = branch s26-wave-spans (ADAMAS_GRID_WAVES: rank-major launch, wave-weighted spans).
# (1) per-block stamps (CSV) of the committed step, isolated and end to end, summarized;
# (2) the GPU suite on base, the waves and trace-file tests on wv;
# (3) the isolated step alternating base / wv unset / WAVES=100,90,80,70; (4) LongChat-7B 32K end to end.
set -u
for t in bin base wv; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=$OUT; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    wv0) LD_LIBRARY_PATH=/tmp/wv:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    w*) ADAMAS_GRID_WAVES=${v#w} LD_LIBRARY_PATH=/tmp/wv:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
  esac; }
# (1) stamps
for spec in "base 32 32768" "base 32 131072" "base 8 32768" "w80 32 32768" "w80 32 131072" "w100 32 32768"; do
  set -- $spec
  f=$O/stamps_iso_$1_kv$2_$3.csv
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$f run_as $1 timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 > $O/trace_iso_$1_kv$2_$3.txt 2>&1
  echo "== iso $spec"; python3 bench/stamps_summary.py $f > $O/summary_iso_$1_kv$2_$3.txt 2>&1; head -60 $O/summary_iso_$1_kv$2_$3.txt
done
ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_e2e_base_32768.csv run_as base timeout 100 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_e2e_base_32768.txt 2>&1
python3 bench/stamps_summary.py $O/stamps_e2e_base_32768.csv > $O/summary_e2e_base_32768.txt 2>&1; echo "== e2e base"; head -60 $O/summary_e2e_base_32768.txt
el stamps
# (2) suite
LD_LIBRARY_PATH=/tmp/wv:/tmp/bin:/usr/local/cuda/lib64 timeout 120 /tmp/wv/adamas_cuda_tests_wv --gtest_brief=1 --gtest_filter='GridStepWaves*:GridStepTraceFile*:GridStepTest*' > $O/wv_tests.log 2>&1; tail -3 $O/wv_tests.log
LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
el suite
# (3) isolated step
iso() { run_as $1 $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context $2 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 c$2 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3; do for v in base wv0 w100 w90 w80 w70; do for c in 32768 131072; do iso $v $c; done; done; done 2>&1 | tee $O/iso.txt
el iso
# (4) end to end, 32K
run_as base timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies full --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_full.json 2>$O/e2e_full.err
python3 -c "
import json; d=json.load(open('$O/e2e_full.json'))
for r in d['rows']: print('lc full', r['context'], '%.3f ms' % r['ms_per_step'])" | tee $O/e2e.txt
for rep in a b; do for v in base w90 w80 w70; do
  run_as $v timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_${v}_$rep.json 2>$O/e2e_${v}_$rep.err || tail -2 $O/e2e_${v}_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_$rep.json'))
for r in d['rows']: print('lc $v $rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"
  el e2e $v $rep
done; done 2>&1 | tee -a $O/e2e.txt
