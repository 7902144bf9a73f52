#!/usr/bin/env bash
# session 22 call 4 (nvidia-h200), switches only (the binary of call 3): with the skew spread on, does
# the step's programmatic launch (ADAMAS_STEP_PDL=1) pay now, does the K/V prefetch still; the kernel
# timeline of one replay (LongChat-7B 32K, full and Adamas).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/tl
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
for rep in a b; do
  e2e lc_full_$rep full longchat-7b 32768 X=1
  e2e lc_spread_$rep adamas longchat-7b 32768,131072 X=1
  e2e lc_pdl_$rep adamas longchat-7b 32768,131072 ADAMAS_STEP_PDL=1
  e2e lc_plain_$rep adamas longchat-7b 32768 ADAMAS_STEP_GATHER=plain
  e2e lc_pdlplain_$rep adamas longchat-7b 32768 ADAMAS_STEP_PDL=1 ADAMAS_STEP_GATHER=plain
done 2>&1 | tee $O/e2e.txt
for m in 0 1; do e2e l3_pdl$m adamas llama3-8b 32768,131072 ADAMAS_STEP_PDL=$m; done 2>&1 | tee -a $O/e2e.txt
el e2e
timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/lc > $O/tl/lc.json 2>&1
for f in $O/tl/lc_*.jsonl; do python3 bench/timeline_summary.py $f | head -12; done
el timeline
tar czf $OUT/c4.tgz -C $O .
