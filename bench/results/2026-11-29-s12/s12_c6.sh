#!/usr/bin/env bash
# session 12 call 6: the fixed AsymmetricPartTest (its page table now covers the cache), the
# asymmetric test shapes again, and MHA 32K with each part size (3 rounds)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
T=/tmp/bin/adamas_cuda_tests
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
OMP_NUM_THREADS=4 timeout 60 $T --gtest_filter='AsymmetricPartTest.*:KernelVariantsTest.*:DeviceCalibrationTest.*' > $O/tests.log 2>&1
echo "tests: $(grep -h 'PASSED\|FAILED' $O/tests.log | tr '\n' ' ')"
grep -h -A6 "Failure" $O/tests.log | head -20
el tests
run() { ADAMAS_BENCH_FLUSH=write timeout 60 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators $3 --iters 50; }
for rep in 1 2 3; do
  run 32 32768 l1,asymmetric | sed "s/^{/{\"round\": $rep, \"part\": \"auto\", /" >> $O/asym.jsonl
  for part in 2048 8192; do
    ADAMAS_ASYM_PART=$part run 32 32768 asymmetric | sed "s/^{/{\"round\": $rep, \"part\": \"$part\", /" >> $O/asym.jsonl
  done
  ADAMAS_ASYM_PART=8192 ADAMAS_ASYM_CLUSTER=2 run 32 32768 asymmetric | sed "s/^{/{\"round\": $rep, \"part\": \"8192c2\", /" >> $O/asym.jsonl
done
el bench
python3 - <<'PY'
import json, statistics as st
rows={}
for l in open('/tmp/o/asym.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  rows.setdefault((r['kv_heads'], r['context'], r['estimator'], r['part']), []).append(r['estimate_us'])
for k in sorted(rows): print(k, ' '.join('%.2f' % t for t in rows[k]), ' median %.2f' % st.median(rows[k]))
PY
tar czf $OUT/c6.tgz -C $O .
