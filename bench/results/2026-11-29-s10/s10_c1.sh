#!/usr/bin/env bash
# session 10 call 1: launch order end to end (LongChat-7B, batch 1, budget 256): programmatic launch of
# the norms (ADAMAS_NORM_PDL), of append and the cluster step (ADAMAS_PDL, with the step's page ids
# and an L2 prefetch of its first code pages before the wait: ADAMAS_STEP_PREFETCH), and the L2
# prefetch of each layer's o / gate|up weights during attention (ADAMAS_L2_PREFETCH_MB, _POLICY);
# then the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O/e2e
A=/tmp/bin/adamas
E="bench-e2e --iterations 10 --json --budgets 256 --batches 1 --shape longchat-7b --policies full,adamas"
v() {  # name context env...
  local name=$1 ctx=$2; shift 2
  env "$@" timeout 60 $A $E --contexts $ctx > $O/e2e/$name.json 2> $O/e2e/$name.log; echo "$name rc $?"
}
v v0_base 32768 ADAMAS_NORM_PDL=0 ADAMAS_PDL=0 ADAMAS_L2_PREFETCH_MB=0 ADAMAS_STEP_PREFETCH=0
v v1_norm 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=0 ADAMAS_L2_PREFETCH_MB=0 ADAMAS_STEP_PREFETCH=0
v v2_pdl 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=0 ADAMAS_STEP_PREFETCH=0
v v3_pdl_sp2k 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=0 ADAMAS_STEP_PREFETCH=2048
v v4_pdl_spall 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=0 ADAMAS_STEP_PREFETCH=all
v v5_l2_32 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=0 ADAMAS_L2_PREFETCH_MB=32 ADAMAS_STEP_PREFETCH=0
v v6_l2_32last 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=0 ADAMAS_L2_PREFETCH_MB=32 ADAMAS_L2_PREFETCH_POLICY=last ADAMAS_STEP_PREFETCH=0
v v7_l2_48 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=0 ADAMAS_L2_PREFETCH_MB=48 ADAMAS_STEP_PREFETCH=0
v v8_all_sp2k 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=32 ADAMAS_STEP_PREFETCH=2048
v v9_all_spall 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=32 ADAMAS_STEP_PREFETCH=all
v v10_all48last 32768 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=48 ADAMAS_L2_PREFETCH_POLICY=last ADAMAS_STEP_PREFETCH=2048
v v0_base_128k 131072 ADAMAS_NORM_PDL=0 ADAMAS_PDL=0 ADAMAS_L2_PREFETCH_MB=0 ADAMAS_STEP_PREFETCH=0
v v8_all_128k 131072 ADAMAS_NORM_PDL=1 ADAMAS_PDL=1 ADAMAS_L2_PREFETCH_MB=32 ADAMAS_STEP_PREFETCH=2048
el e2e
python3 -c "
import json,glob
for f in sorted(glob.glob('/tmp/o/e2e/*.json')):
  try: d=json.load(open(f))
  except Exception as e: print(f, 'no json'); continue
  for r in d['rows']:
    if r.get('skipped'): continue
    print(f.split('/')[-1][:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'matmul', round(r['matmul_ms'],3), 'attn', round(r.get('attention_ms',0),3), 'x', round(r['speedup_vs_full'],3))
"
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 16
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -40
el suite
tar czf $OUT/c1.tgz -C $O .
