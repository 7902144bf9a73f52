#!/usr/bin/env bash
# Session 25, call 7 (nvidia-h200): the library as committed at the session's end, on a fresh
# machine: GPU suite, the step's table of record, LongChat-7B / Llama-3-8B end to end (six runs),
# and the grid step's blocks per row end to end (ADAMAS_GRID_BLOCKS=6|7 against auto, 8 at 32K).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -1 $O/checks.log
el checks
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; tail -3 $O/table.log
el table
e2e() {  # tag policies shape contexts [env...]
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
{
for rep in a b c; do
  e2e lc_$rep full,adamas longchat-7b 32768,131072 X=1
  e2e g6_$rep full,adamas longchat-7b 32768 ADAMAS_GRID_BLOCKS=6
  e2e g7_$rep full,adamas longchat-7b 32768 ADAMAS_GRID_BLOCKS=7
done
for rep in d e f; do e2e lc_$rep full,adamas longchat-7b 32768,131072 X=1; done
e2e l3 full,adamas llama3-8b 32768,131072 X=1
} 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c7.tgz -C $O .
