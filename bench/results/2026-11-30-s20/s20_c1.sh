#!/usr/bin/env bash
# session 20 call 1 (nvidia-h200): where the step's time goes in the benchmark and end to end.
# A: the isolated MHA step traced (ADAMAS_STEP_TRACE) after a write flush and after a read flush.
# B: the attention-only graph (--graph-split) of LongChat-7B-shaped models of 4, 8 and 32 layers at
#    32K (2 dense layers each), so the per-step time can be compared with the isolated one against
#    the cache's footprint (TLB reach).
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
export CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=8
B=/tmp/bin/adamas_cuda_bench
for ctx in 32768 131072; do for flush in write read; do
  ADAMAS_STEP_TRACE=1 ADAMAS_BENCH_FLUSH=$flush timeout 60 $B --iters 50 --batch 1 --q-heads 32 --kv-heads 32 --context $ctx --budgets 256 --policies adamas --estimators l1 --json > $O/step_${ctx}_${flush}.json 2> $O/step_${ctx}_${flush}.trace
  echo "ctx $ctx flush $flush: $(grep -o '"total_us":[0-9.]*' $O/step_${ctx}_${flush}.json | head -1)"; grep -E "scan starts|scan ends|row met|merged" $O/step_${ctx}_${flush}.trace | head -4
done; done | tee $O/step.txt
el steps
for L in 4 8; do
  cat > $O/cfg$L.json <<J
{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":11008,"num_attention_heads":32,"num_key_value_heads":32,"num_hidden_layers":$L,"vocab_size":32000,"rms_norm_eps":1e-5,"rope_theta":10000.0,"max_position_embeddings":32768,"rope_scaling":{"type":"linear","factor":8.0},"torch_dtype":"bfloat16"}
J
done
for s in $O/cfg4.json $O/cfg8.json longchat-7b; do
  n=$(basename $s .json)
  timeout 150 /tmp/bin/adamas bench-e2e --iterations 10 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape $s --graph-split > $O/e2e_$n.json 2>$O/e2e_$n.err
  python3 -c "
import json; d=json.load(open('$O/e2e_$n.json'))
for r in d['rows']: print('$n', r['context'], r['policy'], '%.3f ms' % r['ms_per_step'], r.get('graph_ms_without'))
"
  el e2e $n
done | tee $O/e2e.txt
ADAMAS_STEP_TRACE=1 timeout 150 /tmp/bin/adamas bench-e2e --iterations 3 --policies adamas --json --budgets 256 --batches 1 --contexts 32768 --shape longchat-7b > $O/e2e_trace.json 2>$O/e2e_trace.err
grep -c "grid step trace" $O/e2e_trace.err; grep -E "merged" $O/e2e_trace.err | head -40
el trace
tar czf $OUT/c1.tgz -C $O .
