#!/usr/bin/env bash
# session 9 call 1: the GPU suite over the three commits compiled but not run last session (step knobs in
# KernelVariants, ScopedEnv fixtures, diagnostics read once), the step benchmark, phase stamps at 32K/128K
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 30 >> $O/step.jsonl
done; done
python3 -c "
import json
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l); print('step', r['batch'], r['kv_heads'], r['context'], r['budget'], r['total_us'])
"
for c in 32768 131072; do
  echo "== kv 32 context $c" >> $O/trace.txt
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --iters 5 2>> $O/trace.txt >/dev/null
done
cat $O/trace.txt
el bench
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A10 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c1.tgz -C $O .
