#!/usr/bin/env bash
# Session 27, call 2. base = main's library and executables (kernels of 280f0bc); nx = branch
# s27-next-codes: ADAMAS_STEP_NEXT, the grid step asking L2 for the codes it will scan in the next
# layer (scan: right after its scan; attend: after its attention; idle: the same kernel without the
# requests). LongChat-7B end to end alternating, traces of the scan, then the GPU suite on nx.
# (First run: the suite passed, 993/993; every other line failed on the timeout path, fixed here;
# SUITE=0 skips the suite on the rerun.)
set -u
for t in bin base nx; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c2b.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 timeout 100 /tmp/bin/"$@" ;;
    off) LD_LIBRARY_PATH=/tmp/nx:/usr/local/cuda/lib64 timeout 100 /tmp/nx/"$@" ;;
    idle|scan|attend) ADAMAS_STEP_NEXT=$v LD_LIBRARY_PATH=/tmp/nx:/usr/local/cuda/lib64 timeout 100 /tmp/nx/"$@" ;;
    scanN) ADAMAS_STEP_NEXT=scan ADAMAS_STEP_NEXT_HINT=normal LD_LIBRARY_PATH=/tmp/nx:/usr/local/cuda/lib64 timeout 100 /tmp/nx/"$@" ;;
    scan12|scan40) ADAMAS_STEP_NEXT=scan ADAMAS_STEP_NEXT_MIB=${v#scan} LD_LIBRARY_PATH=/tmp/nx:/usr/local/cuda/lib64 timeout 100 /tmp/nx/"$@" ;;
    attend40) ADAMAS_STEP_NEXT=attend ADAMAS_STEP_NEXT_MIB=40 LD_LIBRARY_PATH=/tmp/nx:/usr/local/cuda/lib64 timeout 100 /tmp/nx/"$@" ;;
  esac; }
e2e() { local v=$1 c=$2 pol=$3 tag=$4
  run_as $v adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_${pol}_$tag.json 2>$O/e2e_${v}_${c}_${pol}_$tag.err || tail -2 $O/e2e_${v}_${c}_${pol}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_${pol}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
e2e base 32768 full a; e2e off 32768 full a
for rep in a b c; do for v in base off idle scan attend scanN scan12 scan40 attend40; do e2e $v 32768 adamas $rep; done; done 2>&1 | tee $O/e2e32.txt
el e2e32
e2e base 131072 full a
for rep in a b; do for v in base idle scan attend scan40 attend40; do e2e $v 131072 adamas $rep; done; done 2>&1 | tee $O/e2e128.txt
el e2e128
for v in base scan attend; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_e2e_$v.csv run_as $v adamas bench-e2e --iterations 3 --policies adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/trace_e2e_$v.txt 2>&1
  echo "== trace e2e $v"; sed -n '/grid step trace/,+13p' $O/trace_e2e_$v.txt | head -14
done
el traces
[ "${SUITE:-1}" = 0 ] && exit 0
PARTS=tests LIMIT=170 bash bench/run_gpu_checks.sh /tmp/nx $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "CudaDecoderNextCodes\|FAILED" $O/checks/tests_*.log | head -5
el suite
