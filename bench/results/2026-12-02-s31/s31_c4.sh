#!/usr/bin/env bash
# Session 31, call 4. The table of record for a5965ea (nobar2 = fin's executables with a5965ea's
# library), then LongChat-7B end to end, fin (feb346b) against nobar2, alternating.
set -u
tar xJf .cuda-run/all.tar.xz -C /tmp
mkdir -p /tmp/nobar2_all; cp /tmp/fin/* /tmp/nobar2_all/; cp /tmp/nobar2/libadamas.so /tmp/nobar2_all/
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; rm -rf $O; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
finish() { tar czf $OUT/c4.tgz -C $O .; }
trap finish EXIT
run_as() { local v=$1; shift; LD_LIBRARY_PATH=/tmp/$v:/usr/local/cuda/lib64 "$@"; }
run_as nobar2_all env ADAMAS_COMMIT=a5965ea ITERS=50 bash bench/run_gpu_bench.sh /tmp/nobar2_all $O/table > $O/table.log 2>&1; tail -2 $O/table.log
grep "| 1 | 32/32 \|| 8 | 32/32 " $O/table/gpu_bench_*.md | head -12
el table
e2e() { local v=$1 c=$2 tag=$3
  run_as $v timeout 60 /tmp/fin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts $c --shape longchat-7b > $O/e2e_${v}_${c}_$tag.json 2>$O/e2e_${v}_${c}_$tag.err || tail -2 $O/e2e_${v}_${c}_$tag.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_${c}_$tag.json'))
for r in d['rows']: print('lc $v $tag', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])"; }
[ "${SKIP_E2E:-0}" = 1 ] || for rep in a b; do for v in fin nobar2; do [ $(( $(date +%s) - t0 )) -lt 300 ] && e2e $v 32768 $rep && e2e $v 131072 $rep; done; done 2>&1 | tee $O/e2e.txt
el e2e
