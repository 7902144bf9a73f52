#!/usr/bin/env bash
# session 8 call 4: phase stamps of the cluster step (ADAMAS_STEP_TRACE)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
for kv in 32 8; do for c in 8192 32768 131072; do
  echo "== kv $kv context $c" >> $O/trace.txt
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 3 2>> $O/trace.txt >/dev/null
done; done
echo "== blocks 2 kv 32 context 32768" >> $O/trace.txt
ADAMAS_STEP_BLOCKS=2 ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --iters 3 2>> $O/trace.txt >/dev/null
cat $O/trace.txt
cp $O/trace.txt $OUT/
