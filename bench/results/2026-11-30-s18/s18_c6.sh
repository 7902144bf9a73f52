#!/usr/bin/env bash
# session 18 call 6 (nvidia-h200), the library as committed: ncu of the grid step's new kernel at MHA
# 128K (the whole step, and its scan alone with ADAMAS_STEP_PROBE=1), and the LongChat-7B step graph
# at 32K with each part left out (--graph-split), for the next session
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o6; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
B=/tmp/bin/adamas_cuda_bench
for p in 0 1; do
  ADAMAS_STEP_PROBE=$p timeout 150 ncu --clock-control none -k regex:grid_step --launch-count 1 --set full $B --iters 3 --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --budgets 256 --policies adamas --estimators l1 > $O/ncu_grid_128k_probe$p.txt 2>&1
  grep -E "grid_step_kernel|Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Issued Ipc|Warp Cycles Per Issued|L2 Hit" $O/ncu_grid_128k_probe$p.txt | head -14
done
el ncu
timeout 200 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b --graph-split > $O/e2e_split.json 2> $O/e2e_split.err
python3 -c "
import json; d=json.load(open('$O/e2e_split.json'))
for r in d['rows']: print(r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], {k: round(r['ms_per_step'] - v, 3) for k, v in r['graph_ms_without'].items()})
" | tee $O/e2e_split.txt
el e2e
tar czf $OUT/c6.tgz -C $O .
