#!/usr/bin/env bash
# Session 28, call 7: main at a6ff0d4 (the one-head compaction by paired subtractions) on a fresh
# machine: the step's table of record next to PyTorch SDPA, the step's phase stamps at MHA 32K / 128K,
# LongChat-7B end to end (three runs of full and Adamas, 32K and 128K) and Llama-3-8B.
set -u
tar xJf .cuda-run/fin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/fin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c7.tgz -C $O .; }
trap finish EXIT
ITERS=50 bash bench/run_gpu_bench.sh /tmp/fin $O/table > $O/table.log 2>&1; tail -3 $O/table.log
el table
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 ADAMAS_STEP_TRACE_FILE=$O/stamps_kv32_$c.csv timeout 60 /tmp/fin/adamas_cuda_bench --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_kv32_$c.txt 2>&1
  python3 bench/stamps_summary.py $O/stamps_kv32_$c.csv > $O/summary_kv32_$c.txt 2>&1
done
el stamps
e2e() {  # tag policies shape contexts
  local tag=$1 pol=$2 shape=$3 ctx=$4
  timeout 150 /tmp/fin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0), 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
" 2>&1 | tail -4
}
{
for rep in a b c; do e2e lc_$rep full,adamas longchat-7b 32768,131072; done
e2e l3 full,adamas llama3-8b 32768,131072
} 2>&1 | tee $O/e2e.txt
el e2e
