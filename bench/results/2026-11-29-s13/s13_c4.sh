#!/usr/bin/env bash
# session 13 call 4: is the code scan bound by its access pattern? The step (cluster = auto, grid)
# and its scan alone (probe 1), and the split path's estimate pass, at MHA 32K / 128K with pages of
# 16 (512-byte code chunks per head), 32, 64, 256, 1024 tokens (shuffled page table); ncu of the
# grid step's scan at page 16 and 256
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
run() { timeout 40 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --page-size $3 --budgets 256 --policies adamas --estimators l1 --iters 50; }
for p in 16 32 64 256 1024; do for c in 32768 131072; do for step in auto grid split; do
  ADAMAS_STEP=$step run 32 $c $p | sed "s/^{/{\"probe\": 0, /" >> $O/pages.jsonl
  [ $step != split ] && ADAMAS_STEP_PROBE=1 ADAMAS_STEP=$step run 32 $c $p | sed "s/^{/{\"probe\": 1, /" >> $O/pages.jsonl
done; done; done
for p in 16 64 256; do for step in auto grid; do ADAMAS_STEP=$step run 8 131072 $p | sed "s/^{/{\"probe\": 0, /" >> $O/pages.jsonl; done; done
el pages
python3 - <<'PY'
import json
for l in open('/tmp/o/pages.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  print('kv %d ctx %6d page %4d %-5s probe %d  total %7.2f  estimate %6.2f' % (r['kv_heads'], r['context'], r['page_size'], r['step'], r['probe'], r['total_us'], r['estimate_us']))
PY
for p in 16 256; do
  ADAMAS_STEP=grid ADAMAS_STEP_PROBE=1 timeout 120 ncu --clock-control none --kernel-name regex:"grid_step" --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy -o /tmp/ncu_p$p \
    $B --batch 1 --q-heads 32 --kv-heads 32 --context 131072 --page-size $p --budgets 256 --policies adamas --iters 1 > /tmp/ncu_run_$p.log 2>&1
  ncu --import /tmp/ncu_p$p.ncu-rep > $O/ncu_grid_scan_p$p.txt 2>&1
  grep -E "Duration|DRAM Through|Memory Throughput|L2 Hit|L1/TEX Hit|Achieved Occupancy|Stall|Warp Cycles Per Issued" $O/ncu_grid_scan_p$p.txt | head -14
done
el ncu
tar czf $OUT/c4.tgz -C $O .
