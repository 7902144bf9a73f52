#!/usr/bin/env bash
# Session 26, call 2: A/B of the kDouble scan requesting both rounds of codes in its set-up (v1:
# libadamas.so of the change; base: commit 280f0bc), isolated step (MHA, GQA) and LongChat-7B end to
# end, alternating in one call; the step's tests on v1; traces with the set-up's two new points.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
tar xJf .cuda-run/v1.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export CUDA_VISIBLE_DEVICES=0
lib() { if [ $1 = base ]; then echo /tmp/bin:/usr/local/cuda/lib64; else echo /tmp/$1:/tmp/bin:/usr/local/cuda/lib64; fi; }
B=/tmp/bin/adamas_cuda_bench
iso() {  # variant heads context
  LD_LIBRARY_PATH=$(lib $1) $B --iters 50 --batch 1 --q-heads 32 --kv-heads $2 --context $3 --budgets 256 --policies adamas --estimators l1 2>/dev/null |
    python3 -c "import json,sys
for l in sys.stdin:
  if l.startswith('{'): d=json.loads(l); print('iso $1 kv$2 c$3 total %.2f us' % d['total_us'])"
}
for rep in 1 2; do for v in base v1; do
  for kv in 32 8; do for c in 32768 131072; do iso $v $kv $c; done; done
done; done 2>&1 | tee $O/iso.txt
el iso
for rep in a b; do for v in base v1; do
  LD_LIBRARY_PATH=$(lib $v) timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_${v}_$rep.json 2>$O/e2e_${v}_$rep.err || tail -2 $O/e2e_${v}_$rep.err
  python3 -c "
import json; d=json.load(open('$O/e2e_${v}_$rep.json'))
for r in d['rows']: print('$v $rep', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.4fx' % r.get('speedup_vs_full', 0))
"
done; done 2>&1 | tee $O/e2e.txt
el e2e
for v in base v1; do for c in 32768 131072; do
  ADAMAS_STEP_TRACE=1 LD_LIBRARY_PATH=$(lib $v) timeout 60 $B --iters 20 --batch 1 --q-heads 32 --kv-heads 32 --context $c --budgets 256 --policies adamas --estimators l1 > $O/trace_${v}_$c.txt 2>&1
  echo "== $v $c"; sed -n '/grid step trace/,+14p' $O/trace_${v}_$c.txt | head -15
done; done
el traces
LD_LIBRARY_PATH=$(lib v1) timeout 240 /tmp/bin/adamas_cuda_tests --gtest_filter='*Step*:*Grid*:*Cluster*' --gtest_brief=1 > $O/tests_v1.txt 2>&1; tail -3 $O/tests_v1.txt
el tests
tar czf $OUT/c2.tgz -C $O .
