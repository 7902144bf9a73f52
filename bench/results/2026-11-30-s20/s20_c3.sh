#!/usr/bin/env bash
# session 20 call 3 (nvidia-h200): the committed library (the page touch and the stream launch of
# call 2 reverted) with the grid step's trace also printing the attention phase by the block's rank
# in its row: isolated MHA 32K / 128K and GQA 32K, then LongChat-7B end to end (eager traces), then
# the step's default timing again.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=8
B=/tmp/bin/adamas_cuda_bench
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
step() { $B --iters 50 --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 | tot; }
for kv in 32 8; do for c in 32768 131072; do echo "kv$kv $c $(step $kv $c) $(step $kv $c)"; done; done | tee $O/steps.txt
for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 $B --iters 5 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > /dev/null 2> $O/trace_$c.err
done
cat $O/trace_32768.err | head -30
el isolated
ADAMAS_STEP_TRACE=1 timeout 150 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_trace.json 2>$O/e2e_trace.err
grep -E "attention of rank|merged" $O/e2e_trace.err | head -45
el etrace
tar czf $OUT/c3.tgz -C $O .
