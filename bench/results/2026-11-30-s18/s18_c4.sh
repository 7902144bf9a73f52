#!/usr/bin/env bash
# session 18 call 4 (nvidia-h200; the x2 kind was not lent), the library as committed (e03e435): an
# A/B of the GQA paths (call 3's slowdown), the table of record and end to end (LongChat-7B,
# Llama-3-8B, batch 1). The sanitizers and the suite: call 5.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/race $O/mem
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
T=/tmp/bin/adamas_cuda_tests
export CUDA_VISIBLE_DEVICES=0
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for c in 32768 131072; do
  echo "gqa $c auto $(step 8 $c) grid16 $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=16 step 8 $c) cluster $(ADAMAS_STEP=cluster step 8 $c) split $(ADAMAS_STEP=split step 8 $c) | mha auto $(step 32 $c)"
done 2>&1 | tee $O/ab.txt
el ab
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/table > $O/table.log 2>&1; sed -n '/^| batch/,$p' $O/table/gpu_bench_*.md
el table
for shape in longchat-7b llama3-8b; do
  timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape $shape > $O/e2e_$shape.json 2>$O/e2e_$shape.err
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_$shape.json'))
for r in d['rows']: print('$shape', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'floor %.3f ms' % (r['bytes_per_step'] / d['copy_gb_per_s'] / 1e6))
"
done | tee $O/e2e.txt
el e2e
tar czf $OUT/c4.tgz -C $O .
