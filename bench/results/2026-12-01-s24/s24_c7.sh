#!/usr/bin/env bash
# session 24 call 7 (nvidia-h200): the products' splits of `in` beside the o product's 2 (call 6):
# the down product's (experiment-only ADAMAS_GEMV_SPLIT_DOWN), and every product's (ADAMAS_GEMV_SPLIT).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
export CUDA_VISIBLE_DEVICES=0
e2e() {  # tag policies shape contexts, env...
  local tag=$1 pol=$2 shape=$3 ctx=$4; shift 4
  env "$@" timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies $pol --json --budgets 256 --batches 1 --contexts $ctx --shape $shape > $O/e2e_$tag.json 2>$O/e2e_$tag.err || tail -2 $O/e2e_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$tag.json'))
for r in d['rows']: print('$tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
}
V() { case $1 in
  base) echo "X=1";;
  o2) echo "ADAMAS_GEMV_SPLIT_O=2";;
  o2d2) echo "ADAMAS_GEMV_SPLIT_O=2 ADAMAS_GEMV_SPLIT_DOWN=2";;
  o2d1) echo "ADAMAS_GEMV_SPLIT_O=2 ADAMAS_GEMV_SPLIT_DOWN=1";;
  all2) echo "ADAMAS_GEMV_SPLIT=2";;
esac; }
for rep in a b c; do
  for v in base o2 o2d2 o2d1 all2; do e2e lc_${v}_$rep full,adamas longchat-7b 32768 $(V $v); done
done 2>&1 | tee $O/e2e.txt
for v in base o2 o2d2 o2d1 all2; do
  e2e l3_$v full,adamas llama3-8b 32768,131072 $(V $v)
  e2e lc128_$v full,adamas longchat-7b 131072 $(V $v)
done 2>&1 | tee -a $O/e2e.txt
el e2e
for rep in a b; do for v in base o2; do
  env $(V $v) timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 4 --contexts 32768 --shape longchat-7b > $O/e2e_b4_${v}_$rep.json 2>$O/e2e_b4_${v}_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_b4_${v}_$rep.json'))
for r in d['rows']: print('b4_${v}_$rep', r['batch'], r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r.get('speedup_vs_full', 0))
" 2>&1 | tail -4
done; done 2>&1 | tee -a $O/e2e.txt
el batches
tar czf $OUT/c7.tgz -C $O .
