#!/usr/bin/env bash
# session 8 call 13: end to end with programmatic launch of the attention kernels (ADAMAS_PDL=1) against without
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
E="/tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072"
for pdl in 0 1; do for shape in longchat-7b llama3-8b; do
  ADAMAS_PDL=$pdl timeout 60 $E --shape $shape > $OUT/e2e_${shape}_pdl$pdl.json 2> /dev/null; echo "$shape pdl $pdl rc $?"
done; done
python3 -c "
import json,glob
for f in sorted(glob.glob('$OUT/e2e_*.json')):
  d=json.load(open(f))
  for r in d['rows']: print(f.split('/')[-1][4:-5], r['policy'], r['context'], round(r['ms_per_step'],3), 'attn', round(r['attention_ms'],3), 'x', round(r['speedup_vs_full'],3))
"
