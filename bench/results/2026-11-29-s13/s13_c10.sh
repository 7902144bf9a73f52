#!/usr/bin/env bash
# session 13 call 10 (final review): the set-up both steps share (RowQueries, stage_row in
# step_phases.cuh, after the duplicates check): the step at MHA / GQA 32K and 128K (auto: cluster at
# 32K, grid at MHA 128K), then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
for kv in 32 8; do for c in 32768 131072; do
  timeout 40 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --iters 50 >> $O/step.jsonl
done; done
python3 - <<'PY'
import json
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print('kv %2d ctx %6d total %7.2f' % (r['kv_heads'], r['context'], r['total_us']))
PY
el bench
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
tar czf $OUT/c10.tgz -C $O step.jsonl
