#!/usr/bin/env bash
# session 8 call 8: where the cluster step's scan is slow at 128K: scan time by blocks per SM
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
for v in "32 131072 3" "32 32768 3" "8 131072 3" "32 131072 2"; do set -- $v
  echo "== kv $1 context $2 blocks/SM $3" >> $O/trace.txt
  ADAMAS_STEP=cluster ADAMAS_STEP_BLOCKS=$3 ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --iters 3 2>> $O/trace.txt >/dev/null
done
cat $O/trace.txt
cp $O/trace.txt $OUT/trace_sm.txt
