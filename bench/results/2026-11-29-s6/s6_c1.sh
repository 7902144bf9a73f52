#!/usr/bin/env bash
# session 6 call 1: the whole GPU suite (16 shards), then the asymmetric estimate with and without ADAMAS_ASYM_SPLIT=2
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
PARTS=tests LIMIT=330 bash bench/run_gpu_checks.sh /tmp/bin /tmp/checks 16
grep -h -B3 -A15 "Failure" /tmp/checks/tests_*.log | head -80
(cd /tmp/checks && tar czf $OUT/tests_logs.tgz .)
el tests
B=/tmp/bin/adamas_cuda_bench
for fl in write read; do for kv in 32 8; do for c in 8192 32768 131072; do for sp in 1 2; do
  ADAMAS_ASYM_SPLIT=$sp ADAMAS_BENCH_FLUSH=$fl timeout 60 $B --batch 1 --q-heads 32 --kv-heads $kv --context $c --budgets 256 --policies adamas --estimators l1,asymmetric --iters 30 >> $OUT/bench.jsonl
done; done; done; done
python3 -c "
import json
for l in open('$OUT/bench.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r)
" | head -3
python3 -c "
import json
for l in open('$OUT/bench.jsonl'):
  r=json.loads(l)
  if 'policy' in r: print(r.get('flush'), r.get('asym_split'), r['kv_heads'], r['context'], r.get('estimator'), r['estimate_us'], r['select_us'], r['attend_us'], r['total_us'])
"
el bench
