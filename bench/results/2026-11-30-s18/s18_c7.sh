#!/usr/bin/env bash
# session 18 call 7 (nvidia-h200): after the fix that gives a count asked for (ADAMAS_GRID_BLOCKS)
# that does not fit at 2 per SM the 4-per-SM kernel: the grid-step tests, and the kernel each count takes
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o7; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
/tmp/bin/adamas_cuda_tests --gtest_brief=1 --gtest_filter='*GridBlocks*:*GridStepAuto*:KernelVariants*' > $O/tests.log 2>&1; echo "tests rc=$?"; tail -2 $O/tests.log
tot() { python3 -c 'import sys,json
for l in sys.stdin:
  if l.startswith("{") and "policy" in l: r=json.loads(l); print(r.get("total_us"))'; }
for v in "auto auto" "16 auto" "8 4" "16 2"; do set -- $v
  echo "blocks $1 per_sm $2: $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=$1 ADAMAS_GRID_PER_SM=$2 ADAMAS_STEP_VERBOSE=1 $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 2>&1 | grep -m1 'grid step:' ) $(ADAMAS_STEP=grid ADAMAS_GRID_BLOCKS=$1 ADAMAS_GRID_PER_SM=$2 $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context 32768 --budgets 256 --policies adamas --estimators l1 | tot)"
done 2>&1 | tee $O/counts.txt
tar czf $OUT/c7.tgz -C $O .
