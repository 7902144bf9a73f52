#!/usr/bin/env bash
# Session 27, call 4. base = main's library and executables; np = branch s27-norm-pdl: the residual
# products (o, down) trigger their dependents after their weight reads, and ADAMAS_NORM_PDL=1 launches
# the decode step's RMSNorms programmatically (weight read before griddepcontrol.wait). np0 = the same
# library with plain norms. LongChat-7B (32K, 128K) and Llama-3-8B (32K) end to end alternating,
# kernel timelines of one replay, the decoder tests.
set -u
for t in bin base np; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/tl
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c4.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 timeout 150 /tmp/bin/"$@" ;;
    np0) ADAMAS_NORM_PDL=0 LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64 timeout 150 /tmp/np/"$@" ;;
    np1) ADAMAS_NORM_PDL=1 LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64 timeout 150 /tmp/np/"$@" ;;
  esac; }
ADAMAS_NORM_PDL=1 LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64 timeout 200 /tmp/np/adamas_cuda_tests --gtest_brief=1 \
  --gtest_filter='CudaDecoderNormPdl*:CudaDecoderAppendChain*:CudaDecoderStepInputs*:CudaDecoderGemv*' > $O/np_tests.log 2>&1; tail -3 $O/np_tests.log
el tests
e2e() { local v=$1 shape=$2 c=$3 tag=$4
  run_as $v adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $c --shape $shape > $O/e2e_${v}_${shape}_${c}_$tag.json 2>$O/e2e_${v}_${shape}_${c}_$tag.err || tail -2 $O/e2e_${v}_${shape}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_${c}_$tag.json'))
r={x['policy']: x['ms_per_step'] for x in d['rows']}
print('$shape $v $tag', $c, 'full %.3f adamas %.3f ms  %.4fx' % (r['full'], r['adamas'], r['full'] / r['adamas']))"; }
for rep in a b c d; do for v in base np0 np1; do e2e $v longchat-7b 32768 $rep; done; done 2>&1 | tee $O/e2e32.txt
el e2e32
for rep in a b; do for v in base np0 np1; do e2e $v longchat-7b 131072 $rep; done; done 2>&1 | tee $O/e2e128.txt
for v in base np1; do e2e $v llama3-8b 32768 a; done 2>&1 | tee $O/e2e_llama.txt
el e2e
for v in base np1; do
  run_as $v adamas bench-e2e --iterations 3 --policies full,adamas --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --timeline $O/tl/$v > $O/tl/$v.log 2>&1 || tail -2 $O/tl/$v.log
done
ls $O/tl | head
el timelines
