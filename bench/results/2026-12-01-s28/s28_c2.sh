#!/usr/bin/env bash
# Session 28, call 2. bin = main (e0581b5); cb = compact_block passing over tiles with no distance
# at or below T after one 16-bit-pair minimum a lane and a ballot (both rounds).
# (1) the GPU suite on cb; (2) the isolated step alternating; (3) traces; (4) LongChat-7B end to end.
set -u
for t in bin cb; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
cp -n /tmp/bin/* /tmp/cb/
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c2.tgz -C $O .; }
trap finish EXIT
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    cb) LD_LIBRARY_PATH=/tmp/cb:/usr/local/cuda/lib64 "$@" ;;
  esac; }
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/cb $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
iso() { run_as $1 timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in base cb; do for s in "32 8192" "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
for spec in "base 32 32768" "cb 32 32768" "base 32 131072" "cb 32 131072"; do
  set -- $spec
  f=$O/stamps_$1_kv$2_$3.csv
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$f run_as $1 timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 > $O/trace_$1_kv$2_$3.txt 2>&1
  python3 bench/stamps_summary.py $f > $O/summary_$1_kv$2_$3.txt 2>&1
done
el stamps
e2e() { local v=$1 pol=$2 c=$3 tag=$4
  run_as $v timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_$tag.json 2>$O/e2e_${v}_${c}_$tag.err || tail -2 $O/e2e_${v}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
e2e base full,adamas 32768 a 2>&1 | tee $O/e2e.txt
for rep in b c d; do for v in base cb; do e2e $v adamas 32768 $rep; done; done 2>&1 | tee -a $O/e2e.txt
for v in base cb; do e2e $v adamas 131072 a; done 2>&1 | tee -a $O/e2e.txt
el e2e
