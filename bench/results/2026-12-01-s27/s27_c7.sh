#!/usr/bin/env bash
# Session 27, call 7: the end-to-end sweep (bench/run_e2e_suite.sh's bench-e2e calls: both shapes,
# batch 1/4/16, 8K/32K/128K, full and adamas at budgets 64/256/1024, 5 replays a configuration) with
# commit cfb4d2c (ADAMAS_NORM_PDL=auto, the default), and LongChat-7B 32K B=256 twice at 10 replays.
set -u
tar xJf .cuda-run/np.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; S=$O/sweep; mkdir -p $S
export CUDA_VISIBLE_DEVICES=0 LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64
finish() { tar czf $OUT/c7.tgz -C $O .; }
trap finish EXIT
for rep in a b; do
  timeout 60 /tmp/np/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_lc_$rep.json 2>$O/e2e_lc_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_lc_$rep.json'))
r={x['policy']: x['ms_per_step'] for x in d['rows']}
print('lc $rep full %.3f adamas %.3f ms  %.4fx' % (r['full'], r['adamas'], r['full'] / r['adamas']))"
done 2>&1 | tee $O/e2e.txt
B="/tmp/np/adamas bench-e2e --iterations 5 --policies full,adamas --json"
run() { local name=$1 limit=$2; shift 2; timeout "$limit" $B "$@" > "$S/e2e_$name.json" 2> "$S/e2e_$name.log"; echo "$name exit $?"; }
run longchat_b1 60 --shape longchat-7b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b4 45 --shape longchat-7b --batches 4 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b16 30 --shape longchat-7b --batches 16 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b1 60 --shape llama3-8b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b4 50 --shape llama3-8b --batches 4 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b16 40 --shape llama3-8b --batches 16 --contexts 8192,32768,131072 --budgets 64,256,1024
el sweep
