#!/usr/bin/env bash
# Session 27, call 8: commit 0b? (ADAMAS_NORM_PDL=auto only at batch 1-2 with our GEMV) against base
# (main before this session) at batch 1 and 4, LongChat-7B and Llama-3-8B, alternating; the decoder
# and GEMV tests.
set -u
for t in bin base np; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c8.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 timeout 150 /tmp/bin/"$@" ;;
    auto|off) ADAMAS_NORM_PDL=$v LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64 timeout 150 /tmp/np/"$@" ;;
  esac; }
LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64 timeout 200 /tmp/np/adamas_cuda_tests --gtest_brief=1 \
  --gtest_filter='*CudaDecoder*:*Gemv*' > $O/np_tests.log 2>&1; tail -3 $O/np_tests.log
el tests
e2e() { local v=$1 shape=$2 c=$3 b=$4 tag=$5
  run_as $v adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches $b --contexts $c --shape $shape > $O/e2e_${v}_${shape}_${c}_b${b}_$tag.json 2>$O/e2e_${v}_${shape}_${c}_b${b}_$tag.err || tail -2 $O/e2e_${v}_${shape}_${c}_b${b}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_${c}_b${b}_$tag.json'))
r={x['policy']: x['ms_per_step'] for x in d['rows']}
print('$shape b$b $v $tag', $c, 'full %.3f adamas %.3f ms  %.4fx' % (r['full'], r['adamas'], r['full'] / r['adamas']))"; }
for rep in a b c d; do for v in base auto; do e2e $v longchat-7b 32768 1 $rep; done; done 2>&1 | tee $O/e2e.txt
for rep in a b; do for v in base auto; do e2e $v longchat-7b 131072 1 $rep; e2e $v longchat-7b 32768 4 $rep; e2e $v llama3-8b 32768 4 $rep; e2e $v longchat-7b 32768 2 $rep; done; done 2>&1 | tee -a $O/e2e.txt
el e2e
