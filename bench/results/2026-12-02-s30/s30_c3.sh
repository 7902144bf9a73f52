#!/usr/bin/env bash
# Session 30, call 3. fin = main at 704d4f3. (1) The table of record again (write flush) and under the
# read flush (ADAMAS_BENCH_FLUSH=read: clean lines in the L2, for ours and SDPA alike); (2) run-time
# knobs of the isolated MHA step, alternating: blocks a row (ADAMAS_GRID_BLOCKS 6/7/8) and the cache's
# page size (16/32/64/128).
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0 LD_LIBRARY_PATH=/tmp/fin:/usr/local/cuda/lib64 ADAMAS_COMMIT=704d4f3
finish() { tar czf $OUT/c3.tgz -C $O .; }
trap finish EXIT
ITERS=50 bash bench/run_gpu_bench.sh /tmp/fin $O/table_write > $O/table_write.log 2>&1; tail -2 $O/table_write.log
ADAMAS_BENCH_FLUSH=read ITERS=50 bash bench/run_gpu_bench.sh /tmp/fin $O/table_read > $O/table_read.log 2>&1; tail -2 $O/table_read.log
el tables
iso() { local kv=$1 c=$2; shift 2
  timeout 60 /tmp/fin/adamas_cuda_bench --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1 "$@" 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso kv$kv c$c blocks=${ADAMAS_GRID_BLOCKS:-auto} $* total %.2f us' % d['total_us'])"; }
for rep in 1 2 3; do
  for b in 6 7 8; do for c in 32768 131072; do ADAMAS_GRID_BLOCKS=$b iso 32 $c; done; done
  for p in 16 32 64 128; do for c in 32768 131072; do iso 32 $c --page-size $p; done; iso 8 32768 --page-size $p; done
done 2>&1 | tee $O/knobs.txt
el knobs
