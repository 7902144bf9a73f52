#!/usr/bin/env bash
# Session 26, call 8: call 7's table had the isolated step slower than call 2's committed library
# (GQA 32/8 by 1-2 us). base = libadamas.so of commit 280f0bc; e1 = the set-up variant without the
# three set-up trace points (auto, and ADAMAS_STEP_SETUP=first). Isolated step alternating, then
# LongChat-7B end to end base against e1.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
tar xJf .cuda-run/libs.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    auto) LD_LIBRARY_PATH=/tmp/e1:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
    first) ADAMAS_STEP_SETUP=first LD_LIBRARY_PATH=/tmp/e1:/tmp/bin:/usr/local/cuda/lib64 "$@" ;;
  esac; }
iso() { run_as $1 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"; }
for rep in 1 2 3; do for v in base auto first; do
  for kv in 32 8; do for c in 32768 131072; do iso $v $kv $c; done; done
done; done 2>&1 | tee $O/iso.txt
for rep in a b; do for v in base auto; do
  run_as $v timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_${v}_$rep.json 2>$O/e2e_${v}_$rep.err || tail -2 $O/e2e_${v}_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_$rep.json'))
for r in d['rows']: print('lc $v $rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done; done 2>&1 | tee $O/e2e.txt
tar czf $OUT/c8.tgz -C $O .
