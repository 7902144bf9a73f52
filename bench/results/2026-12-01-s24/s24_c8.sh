#!/usr/bin/env bash
# session 24 call 8 (nvidia-h200): the library as committed (the residual products' one-wave split,
# gemv_k_slices): the GPU suite; LongChat-7B and Llama-3-8B end to end against the old split
# (ADAMAS_GEMV_SPLIT=4: every product 4 ways, as before at batch 1); the e2e sweep's batch rows
# (bench/run_e2e_suite.sh's bench-e2e calls, without the GEMV A/B and the perplexity runs).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
PARTS=tests LIMIT=150 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1
tail -3 $O/checks.log; el checks
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
for rep in a b c; do
  e2e lc_new_$rep full,adamas longchat-7b 32768,131072 X=1
  e2e lc_old_$rep full,adamas longchat-7b 32768,131072 ADAMAS_GEMV_SPLIT=4
done 2>&1 | tee $O/e2e.txt
for rep in a b; do
  e2e l3_new_$rep full,adamas llama3-8b 32768,131072 X=1
  e2e l3_old_$rep full,adamas llama3-8b 32768,131072 ADAMAS_GEMV_SPLIT=4
done 2>&1 | tee -a $O/e2e.txt
el e2e
S=$O/sweep; mkdir -p $S
B="/tmp/bin/adamas bench-e2e --iterations 5 --policies full,adamas --json"
run() { local name=$1 limit=$2; shift 2; timeout "$limit" $B "$@" > "$S/e2e_$name.json" 2> "$S/e2e_$name.log"; echo "$name exit $?"; }
run longchat_b1 55 --shape longchat-7b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b4 40 --shape longchat-7b --batches 4 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b16 25 --shape longchat-7b --batches 16 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b1 55 --shape llama3-8b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b4 45 --shape llama3-8b --batches 4 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b16 35 --shape llama3-8b --batches 16 --contexts 8192,32768,131072 --budgets 64,256,1024
el sweep
tar czf $OUT/c8.tgz -C $O .
