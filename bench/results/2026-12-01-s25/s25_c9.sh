#!/usr/bin/env bash
# Session 25, call 9: the library built for sm_90a SASS only (CMAKE_CUDA_ARCHITECTURES 90a-real, no
# embedded PTX): the GPU suite and LongChat-7B end to end, to show nothing else changed.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
for rep in a b c; do
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_lc_$rep.json 2>$O/e2e_lc_$rep.err || tail -2 $O/e2e_lc_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_lc_$rep.json'))
for r in d['rows']: print('lc_$rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done 2>&1 | tee $O/e2e.txt
el e2e
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -1 $O/checks.log
el checks
tar czf $OUT/c9.tgz -C $O .
