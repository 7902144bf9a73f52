#!/usr/bin/env bash
# Session 27, call 6. base = main's library and executables; np = branch s27-norm-pdl as it would be
# merged: ADAMAS_NORM_PDL=auto|on|off (auto, the default: the decode step's norms launched
# programmatically in steps with sparse layers only), the residual products' late-trigger kernels
# (GemvProblem::late_trigger) a separate instantiation; the default kernels' SASS equals base's.
# LongChat-7B and Llama-3-8B end to end alternating, then the GPU suite on np.
set -u
for t in bin base np; do tar xJf .cuda-run/$t.tar.xz -C /tmp; done
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c6.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift
  case $v in
    base) LD_LIBRARY_PATH=/tmp/base:/tmp/bin:/usr/local/cuda/lib64 timeout 150 /tmp/bin/"$@" ;;
    auto|on|off) ADAMAS_NORM_PDL=$v LD_LIBRARY_PATH=/tmp/np:/usr/local/cuda/lib64 timeout 150 /tmp/np/"$@" ;;
  esac; }
e2e() { local v=$1 shape=$2 c=$3 tag=$4
  run_as $v adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts $c --shape $shape > $O/e2e_${v}_${shape}_${c}_$tag.json 2>$O/e2e_${v}_${shape}_${c}_$tag.err || tail -2 $O/e2e_${v}_${shape}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${shape}_${c}_$tag.json'))
r={x['policy']: x['ms_per_step'] for x in d['rows']}
print('$shape $v $tag', $c, 'full %.3f adamas %.3f ms  %.4fx' % (r['full'], r['adamas'], r['full'] / r['adamas']))"; }
for rep in a b c d e; do for v in base auto on off; do e2e $v longchat-7b 32768 $rep; done; done 2>&1 | tee $O/e2e32.txt
el e2e32
for rep in a b; do for v in base auto on; do e2e $v longchat-7b 131072 $rep; done; done 2>&1 | tee $O/e2e128.txt
for rep in a b; do for v in base auto on; do e2e $v llama3-8b 32768 $rep; done; done 2>&1 | tee $O/e2e_llama.txt
for v in base auto; do e2e $v llama3-8b 131072 a; done 2>&1 | tee -a $O/e2e_llama.txt
el e2e
PARTS=tests LIMIT=170 bash bench/run_gpu_checks.sh /tmp/np $O/checks 16 > $O/checks.log 2>&1; tail -1 $O/checks.log
grep -h "FAILED" $O/checks/tests_*.log | head -5
el suite
