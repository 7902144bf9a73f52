#!/usr/bin/env bash
# session 9 call 6: where the LongChat-7B decode step's time goes in graph replay (nsys, per kernel), the
# GEMV's split of `in` forced 1/2/4 against auto, and ncu on the first GEMV launches (occupancy, stalls)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
A=/tmp/bin/adamas
which nsys ncu
E="bench-e2e --iterations 10 --json --budgets 256 --batches 1 --shape longchat-7b"
for sp in auto 1 2 4; do
  ADAMAS_GEMV_SPLIT=$sp timeout 60 $A $E --policies full,adamas --contexts 8192,32768 > $O/e2e_split_$sp.json 2>/dev/null; echo "split $sp rc $?"
done
ADAMAS_GEMV_PDL=0 timeout 60 $A $E --policies full,adamas --contexts 8192,32768 > $O/e2e_pdl0.json 2>/dev/null; echo "pdl0 rc $?"
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e_*.json')):
  d=json.load(open(f))
  for r in d['rows']: print(f.split('/')[-1][4:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
el ab
timeout 120 nsys profile --cuda-graph-trace=node -o $O/e2e32k --force-overwrite true $A bench-e2e --iterations 20 --json --budgets 256 --batches 1 --shape longchat-7b --policies adamas --contexts 32768 > /dev/null 2> $O/nsys.log; echo "nsys rc $?"
timeout 60 nsys stats --report cuda_gpu_kern_sum --format csv $O/e2e32k.nsys-rep > $O/kern_sum.csv 2>/dev/null; echo "stats rc $?"
python3 -c "
import csv
rows=list(csv.DictReader(l for l in open('/tmp/o/kern_sum.csv') if l.strip() and not l.startswith('Generating') and not l.startswith('Processing')))
for r in rows[:25]:
  print(r.get('Time (%)'), r.get('Total Time (ns)'), r.get('Instances'), r.get('Avg (ns)'), r.get('Med (ns)'), (r.get('Name') or '')[:110])
" 2>&1 | head -30
el nsys
timeout 150 ncu --clock-control none -k regex:gemv -c 6 --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats $A bench-e2e --iterations 1 --json --budgets 256 --batches 1 --shape longchat-7b --policies full --contexts 8192 > $O/ncu_gemv.txt 2>&1; echo "ncu rc $?"
grep -E "gemv_bf16_kernel|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit|Waves Per SM|Grid Size|Stall|Warp Cycles Per Issued" $O/ncu_gemv.txt | head -90
el ncu
tar czf $OUT/c6.tgz -C $O --exclude='*.nsys-rep' --exclude='*.sqlite' .
