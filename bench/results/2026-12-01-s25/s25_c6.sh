#!/usr/bin/env bash
# Session 25, call 6: the first norm reading the embedding table (ADAMAS_EMBED_NORM=fused, default)
# against embed_kernel before it (split); one product's split of `in` at a time
# (ADAMAS_GEMV_SPLIT_{QKV,O,GATE_UP,DOWN,HEAD}); the new decoder test.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
/tmp/bin/adamas_cuda_tests --gtest_filter='CudaDecoderStepInputs.*:CudaDecoderAppendChain.*:CudaDecoder*Graph*' > $O/tests.log 2>&1; grep -E "^\[  (PASSED|FAILED) |FAILED" $O/tests.log | head -5
e2e() {  # tag env... (LongChat-7B 32K, full and adamas)
  local tag=$1; shift
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json')); r={x['policy']: x['ms_per_step'] for x in d['rows']}
print('%-10s full %.3f adamas %.3f %.4fx' % ('$tag', r['full'], r['adamas'], r['full'] / r['adamas']))
" 2>&1 | tail -2
}
{
for rep in a b c; do
  e2e base_$rep X=1
  e2e split_$rep ADAMAS_EMBED_NORM=split
  e2e qkv2_$rep ADAMAS_GEMV_SPLIT_QKV=2
  e2e gu2_$rep ADAMAS_GEMV_SPLIT_GATE_UP=2
done
e2e base_d X=1
e2e qkv1 ADAMAS_GEMV_SPLIT_QKV=1
e2e gu1 ADAMAS_GEMV_SPLIT_GATE_UP=1
e2e down1 ADAMAS_GEMV_SPLIT_DOWN=1
e2e down4 ADAMAS_GEMV_SPLIT_DOWN=4
e2e o1 ADAMAS_GEMV_SPLIT_O=1
e2e o4 ADAMAS_GEMV_SPLIT_O=4
e2e head1 ADAMAS_GEMV_SPLIT_HEAD=1
e2e head2 ADAMAS_GEMV_SPLIT_HEAD=2
e2e base_e X=1
} 2>&1 | tee $O/e2e.txt
el e2e
tar czf $OUT/c6.tgz -C $O .
