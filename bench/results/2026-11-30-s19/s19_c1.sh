#!/usr/bin/env bash
# session 19 call 1 (nvidia-h200): the L2 hint of the one-launch steps (ADAMAS_WARM_L2_MB: the o and
# gate|up weights fetched into L2 after each block's scan) -- its test, then end to end
# (LongChat-7B, batch 1, 32K and 128K) at 0..64 MB, full attention once.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader
timeout 200 /tmp/bin/adamas_cuda_tests --gtest_filter='*StepWarmTest*' > $O/warm_test.log 2>&1; tail -3 $O/warm_test.log
el test
e2e() {  # shape contexts policies tag
  timeout 120 /tmp/bin/adamas bench-e2e --iterations 10 --policies $3 --json --budgets 256 --batches 1 --contexts $2 --shape $1 > $O/e2e_$4.json 2>$O/e2e_$4.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$4.json'))
for r in d['rows']: print('$4', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'])
"
}
e2e longchat-7b 32768,131072 full,adamas w0 | tee -a $O/e2e.txt
el full
for mb in 16 24 32 40 48 64; do
  ADAMAS_WARM_L2_MB=$mb e2e longchat-7b 32768,131072 adamas w$mb | tee -a $O/e2e.txt
done
ADAMAS_WARM_L2_MB=0 e2e longchat-7b 32768,131072 adamas w0again | tee -a $O/e2e.txt
el sweep
ADAMAS_WARM_L2_MB=32 e2e llama3-8b 32768,131072 full,adamas l3w32 | tee -a $O/e2e.txt
ADAMAS_WARM_L2_MB=0 e2e llama3-8b 32768,131072 adamas l3w0 | tee -a $O/e2e.txt
el llama
tar czf $OUT/c1.tgz -C $O .
