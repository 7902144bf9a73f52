#!/usr/bin/env bash
# session 16 call 3 (nvidia-h200): what bounds the dense kernel's read rate (3.9 TB/s against cuDNN's
# 4.4-4.5): page size, splits, and the L2 flush's mode, full attention only
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
run() { local tag=$1; shift; for c in 32768 131072; do for kv in 8 32; do
  echo "$tag $c $kv $(env "$@" $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 ${EXTRA:-} | python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: print(json.loads(l)["attend_us"])')"; done; done; }
run default X=1
for p in 64 256 1024; do EXTRA="--page-size $p" run page$p X=1; done
for s in 16 24 48 66 99; do run splits$s ADAMAS_DENSE_SPLITS=$s; done
run flushread ADAMAS_BENCH_FLUSH=read
el sweep
: > $O/one.jsonl
for c in 32768 131072; do for kv in 8 32; do $B --iters 50 --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies full --estimators l1 >> $O/one.jsonl; done; done
ADAMAS_BENCH_FLUSH=read python3 bench/sdpa_baseline.py --adamas $O/one.jsonl --out $O/sdpa_read.md > /dev/null 2>&1; grep "^sdpa\|^| 1" $O/sdpa_read.md | tail -4
el sdpa
tar czf $OUT/c3.tgz -C $O .
