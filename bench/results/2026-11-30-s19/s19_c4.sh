#!/usr/bin/env bash
# session 19 call 4 (nvidia-h200): where the end-to-end step's time goes outside the products and the
# attention (bench-e2e --graph-split now also leaves out all four parts, and all but one), and an A/B
# of the norms launched programmatically (ADAMAS_NORM_PDL=1, temporary), with the graph decode test.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
ADAMAS_NORM_PDL=1 timeout 200 /tmp/bin/adamas_cuda_tests --gtest_filter='*CudaGraphDecodeTest*:*CudaGraphSkipTest*' > $O/tests_norm_pdl.log 2>&1; tail -1 $O/tests_norm_pdl.log
el tests
run() {  # tag shape contexts env...
  local tag=$1 shape=$2 ctx=$3; shift 3
  env "$@" timeout 200 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --budgets 256 --batches 1 --contexts $ctx --shape $shape --graph-split > $O/split_$tag.txt 2>$O/split_$tag.err
  echo "== $tag"; grep -v "^$" $O/split_$tag.txt
}
run default longchat-7b 32768,131072 X=1
el split
run norm_pdl longchat-7b 32768 ADAMAS_NORM_PDL=1
run default2 longchat-7b 32768 X=1
run norm_pdl2 longchat-7b 32768 ADAMAS_NORM_PDL=1
el ab
tar czf $OUT/c4.tgz -C $O .
