#!/usr/bin/env bash
# Session 28, call 5. bin = main (e0581b5); cd = call 4's compaction (at_or_below_flags) with its
# span length passed through a shuffle, so that nothing of it is hoisted above the scan: both scan
# loops' SASS equal main's again (1160 / 3199 instructions, the same opcodes), where call 4's had
# moved (1175 / 3267). (1) the GPU suite on cd; (2) the isolated step alternating; (3) end to end,
# LongChat-7B and Llama-3-8B; (4) ncu's stall samples of cd's step at 128K.
set -u
for t in bin cd; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
cp -n /tmp/bin/* /tmp/cd/ 2>/dev/null
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c5.tgz -C $O .; }
trap finish EXIT
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    cd) LD_LIBRARY_PATH=/tmp/cd:/usr/local/cuda/lib64 "$@" ;;
  esac; }
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/cd $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
iso() { run_as $1 timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3 4; do for v in base cd; do for s in "32 8192" "32 32768" "32 131072" "8 32768" "8 131072"; do iso $v $s; done; done; done 2>&1 | tee $O/iso.txt
el iso
e2e() { local v=$1 shape=$2 c=$3 tag=$4
  run_as $v timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape $shape > $O/e2e_${v}_${shape}_${c}_$tag.json 2>$O/e2e_${v}_${shape}_${c}_$tag.err || tail -2 $O/e2e_${v}_${shape}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_${c}_$tag.json'))
for r in d['rows']: print('$shape $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
for rep in a b c; do for v in base cd; do e2e $v longchat-7b 32768 $rep; e2e $v llama3-8b 32768 $rep; done; done 2>&1 | tee $O/e2e.txt
for v in base cd; do e2e $v longchat-7b 131072 a; e2e $v llama3-8b 131072 a; done 2>&1 | tee -a $O/e2e.txt
el e2e
export LD_LIBRARY_PATH=/tmp/cd:/usr/local/cuda/lib64
timeout 100 ncu --clock-control none --kernel-name regex:"grid_step" --launch-skip 2 --launch-count 1 --set full --import-source no -o /tmp/ncu_cd \
  $B --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --budgets 256 --policies adamas --estimators l1 --iters 3 > $O/ncu_run.log 2>&1
ncu --import /tmp/ncu_cd.ncu-rep --page source --csv --print-source sass > $O/ncu_sass_cd_131072.csv 2>/dev/null
python3 scripts/ncu_phase_stalls.py $O/ncu_sass_cd_131072.csv > $O/phases_cd_131072.txt 2>&1; cat $O/phases_cd_131072.txt | head -16
xz -T4 $O/ncu_sass_cd_131072.csv
el ncu
