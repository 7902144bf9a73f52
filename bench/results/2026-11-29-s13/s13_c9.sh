#!/usr/bin/env bash
# session 13 call 9: SpanScan with a token's code loaded by d/64 neighbouring lanes (one warp-wide
# load = 512 contiguous bytes; partial distances added by shuffles) in both one-launch steps: the
# step and its scan (probe 1) at MHA / GQA 8K-128K against call 6; end to end; the GPU suite
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
B=/tmp/bin/adamas_cuda_bench
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
run() { timeout 40 $B --batch 1 --q-heads 32 --kv-heads $1 --context $2 --budgets 256 --policies adamas --estimators l1 --iters 50; }
for rep in 1 2; do for step in auto grid; do for kv in 32 8; do for c in 8192 32768 131072; do
  ADAMAS_STEP=$step run $kv $c | sed "s/^{/{\"round\": $rep, \"probe\": 0, /" >> $O/step.jsonl
  [ $rep = 1 ] && ADAMAS_STEP_PROBE=1 ADAMAS_STEP=$step run $kv $c | sed "s/^{/{\"round\": $rep, \"probe\": 1, /" >> $O/step.jsonl
done; done; done; done
el bench
python3 - <<'PY'
import json
for l in open('/tmp/o/step.jsonl'):
  r=json.loads(l)
  if 'policy' not in r: continue
  print('round %d kv %2d ctx %6d %-4s probe %d  total %7.2f' % (r['round'], r['kv_heads'], r['context'], r['step'], r['probe'], r['total_us']))
PY
for step in auto grid; do
  ADAMAS_STEP=$step timeout 100 /tmp/bin/adamas bench-e2e --iterations 10 --policies full,adamas --json --budgets 256 --batches 1 --contexts 32768,131072 --shape longchat-7b > $O/e2e_longchat_$step.json 2>$O/e2e_$step.err; echo "e2e $step rc $?"
  python3 -c "
import json; d=json.load(open('/tmp/o/e2e_longchat_$step.json'))
for r in d['rows']: print('$step', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], '%.3fx' % r['speedup_vs_full'], 'attn %.3f' % r['attention_ms'])
" 2>&1 | tail -4
done
el e2e
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14
grep -h "^\[  FAILED  \]" $O/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A12 "Failure" $O/checks/tests_*.log | head -30
el suite
tar czf $OUT/c9.tgz -C $O .
