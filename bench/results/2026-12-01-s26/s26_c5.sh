#!/usr/bin/env bash
# Session 26, call 5: A/B/C in one call. A = d2 (the committed step plus trace points; codes
# requested first), B = d3 with ADAMAS_STEP_SETUP=first (the compaction's DPX pre-filter alone),
# C = d3 as it defaults (pre-filter, and the codes requested after the set-up with one head a row,
# split with more). Isolated step (MHA, GQA at 32K / 128K), LongChat-7B and Llama-3-8B end to end,
# traces of C, then the GPU suite on d3.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
tar xJf .cuda-run/d2.tar.xz -C /tmp
tar xJf .cuda-run/d3.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
run_as() {  # A|B|C command...
  local v=$1; shift
  case $v in
    A) LD_LIBRARY_PATH=/tmp/d2:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    B) ADAMAS_STEP_SETUP=first LD_LIBRARY_PATH=/tmp/d3:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    C) LD_LIBRARY_PATH=/tmp/d3:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
  esac
}
iso() {  # variant kv context
  run_as $1 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"
}
for rep in 1 2 3; do for v in A B C; do
  for kv in 32 8; do for c in 32768 131072; do iso $v $kv $c; done; done
done; done 2>&1 | tee $O/iso.txt
el iso
for rep in a b; do for v in A C; do
  run_as $v timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_${v}_$rep.json 2>$O/e2e_${v}_$rep.err || tail -2 $O/e2e_${v}_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_$rep.json'))
for r in d['rows']: print('lc $v $rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done; done 2>&1 | tee $O/e2e.txt
for v in A C; do
  run_as $v timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape llama3-8b > $O/e2e_l3_${v}.json 2>$O/e2e_l3_${v}.err || tail -2 $O/e2e_l3_${v}.err
  python3 -c "
import json; d=json.load(open('$O/e2e_l3_${v}.json'))
for r in d['rows']: print('l3 $v', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done 2>&1 | tee -a $O/e2e.txt
el e2e
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 run_as C timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_C_$c.txt 2>&1
  echo "== C $c"; sed -n '/grid step trace/,+14p' $O/trace_C_$c.txt | head -15
done
el traces
cp /tmp/d3/libadamas.so /tmp/bin/
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -1 $O/checks.log
el checks
tar czf $OUT/c5.tgz -C $O .
