#!/usr/bin/env bash
# Session 26, call 4: when the grid step's set-up requests its first codes (ADAMAS_STEP_SETUP, an
# experiment in d2 = libadamas.so of this session): first (as committed: before staging q), after
# (once the query code is built), split (the warps that build no query code right after q is
# staged, warp 0 after building it). Isolated step, MHA and GQA, 32K / 128K, alternating; traces.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
tar xJf .cuda-run/d2.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
export LD_LIBRARY_PATH=/tmp/d2:/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
iso() {  # setup kv context
  ADAMAS_STEP_SETUP=$1 $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"
}
for rep in 1 2 3; do for v in first after split; do
  for kv in 32 8; do for c in 32768 131072; do iso $v $kv $c; done; done
done; done 2>&1 | tee $O/iso.txt
el iso
for v in first after split; do for kv in 32 8; do
  ADAMAS_STEP_SETUP=$v ADAMAS_STEP_TRACE=1 timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads $kv --context 32768 --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_kv$kv.txt 2>&1
  echo "== $v kv $kv"; sed -n '/grid step trace/,+14p' $O/trace_${v}_kv$kv.txt | head -15
done; done
el traces
tar czf $OUT/c4.tgz -C $O .
