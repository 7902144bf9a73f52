#!/usr/bin/env bash
# session 24 call 9 (nvidia-h200): where the sparse layers' cache append forks off the step's stream,
# experiment-only ADAMAS_APPEND_FORK: after the step (committed; beside the o product, whose one wave
# of blocks it shares SMs with) or after the o product ("o": beside the norm and gate|up). End to end
# alternating; the decoder's GPU tests under "o".
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
ADAMAS_APPEND_FORK=o timeout 60 /tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='CudaDecoder*' 2>&1 | tail -2
el tests
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
for rep in a b c; do
  e2e lc_step_$rep full,adamas longchat-7b 32768,131072 ADAMAS_APPEND_FORK=step
  e2e lc_o_$rep full,adamas longchat-7b 32768,131072 ADAMAS_APPEND_FORK=o
done 2>&1 | tee $O/e2e.txt
for v in step o; do e2e l3_$v full,adamas llama3-8b 32768,131072 ADAMAS_APPEND_FORK=$v; done 2>&1 | tee -a $O/e2e.txt
el e2e
tar czf $OUT/c9.tgz -C $O .
