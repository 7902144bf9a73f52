#!/usr/bin/env bash
# session 14 call 7: streaming loads (evict-first in L2) for the scans' codes (__ldcs) only (call 6 also gave
# the attention's cp.async an L2 evict-first policy: illegal instruction, reverted): the step at MHA/GQA 8K-128K (auto, grid, cluster), the table of record,
# LongChat end to end, the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
run() { timeout 40 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 --iters 50; }
for step in auto grid cluster; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_STEP=$step run $kv $c | grep total | sed "s/^{/{\"stepenv\": \"$step\", \"probe\": 0, /" >> $O/step.jsonl
  ADAMAS_STEP_PROBE=1 ADAMAS_STEP=$step run $kv $c | grep total | sed "s/^{/{\"stepenv\": \"$step\", \"probe\": 1, /" >> $O/step.jsonl
done; done; done
python3 - <<'PY'
import json
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l)
  print('%-7s kv %2d ctx %6d probe %d  est %6.1f  total %7.2f  path %s' % (r['stepenv'], r['kv_heads'], r['context'], r['probe'], r['estimate_us'], r['total_us'], r.get('step')))
PY
el step
for fl in read; do for c in 32768 131072; do ADAMAS_BENCH_FLUSH=$fl run 32 $c | grep total | sed "s/^{/{\"flushenv\": \"$fl\", /" >> $O/flush.jsonl; done; done; cat $O/flush.jsonl | cut -c1-330
ITERS=50 bash bench/run_gpu_bench.sh /tmp/bin $O/bench > $O/bench.log 2>&1; echo "bench rc $?"
cat $O/bench/gpu_bench_*.md | sed -n '/^| batch/,$p' | head -40
el bench
timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat.json 2>$O/e2e.err; echo "e2e rc $?"
python3 -c "
import json; d=json.load(open('/tmp/o/e2e_longchat.json'))
for r in d['rows']: print(r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attn %.3f' % r['attention_ms'])
" 2>&1 | tail -4
el e2e
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 > $O/checks.log 2>&1; tail -5 $O/checks.log
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
tar czf $OUT/c7.tgz -C $O .
