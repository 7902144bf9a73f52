#!/bin/bash
# One call on the GPU machine for the model runtime: the CUDA forward pass against the CPU runtime
# and the small-batch GEMV against its reference (GPU tests), perplexity with --device cuda next to
# --device cpu on the bundled model, and the end-to-end decode sweep (bench-e2e) at 7B scale:
# both shapes, batch 1/4/16, contexts 8K/32K/128K, full and adamas at budgets 64/256/1024, the
# decoder's own choice of weight products (--gemv auto: our GEMV up to batch 8, cuBLAS above); then
# an A/B of the weight products (--gemv own,cublas) at 8K, batch 1/4/16. Configurations whose cache
# does not fit (--memory-limit-gib, 120) are listed as skipped in the JSON and the logs.
# Binaries are built on the dev machine with -DADAMAS_SHARED_LIB=ON -DADAMAS_STATIC_BLAS=ON and
# carried in BIN_DIR with libadamas.so. About 6 minutes on one H200 (each bench-e2e call has its
# own timeout, so a slow call loses only its own rows; every row is also logged as it finishes).
# usage: bench/run_e2e_suite.sh BIN_DIR OUT_DIR   (BIN_DIR: the unpacked carry, e.g. tar xJf .cuda-run/bin.tar.xz -C /tmp)
# then, on the dev machine: python3 bench/plot_e2e.py OUT_DIR bench/results/e2e   (table + plot)
set -u
BIN=$(readlink -f "$1")
OUT=$2
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
echo "== decoder and GEMV tests"
timeout 90 "$BIN/adamas_cuda_tests" --gtest_filter='*CudaDecoder*:*Gemv*' > "$OUT/decoder_tests.log" 2>&1; echo "exit $?"
grep -E "PASSED|FAILED|Failure|error" "$OUT/decoder_tests.log" | head
echo "== bench-e2e"
B="$BIN/adamas bench-e2e --iterations 5 --policies full,adamas --json"
run() {  # name timeout args...
  local name=$1 limit=$2; shift 2
  timeout "$limit" $B "$@" > "$OUT/e2e_$name.json" 2> "$OUT/e2e_$name.log"; echo "$name exit $?"
}
run longchat_b1 55 --shape longchat-7b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b4 40 --shape longchat-7b --batches 4 --contexts 8192,32768,131072 --budgets 64,256,1024
run longchat_b16 25 --shape longchat-7b --batches 16 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b1 55 --shape llama3-8b --batches 1 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b4 45 --shape llama3-8b --batches 4 --contexts 8192,32768,131072 --budgets 64,256,1024
run llama3_b16 35 --shape llama3-8b --batches 16 --contexts 8192,32768,131072 --budgets 64,256,1024
run gemv_ab 45 --shape longchat-7b --batches 1,4,16 --contexts 8192 --budgets 256 --gemv own,cublas
echo "== ppl cpu vs cuda (bundled model, 512 tokens)"
for device in cpu cuda; do
  "$BIN/adamas" ppl --model models/adamas-tiny-8k --text data/heldout/austen_persuasion.txt --max-tokens 512 \
    --policy adamas --budget 64 --kv-dtype f32 --device $device --no-progress --json > "$OUT/ppl_$device.json" 2>&1
  echo "$device exit $?"; grep -E '"perplexity"|error' "$OUT/ppl_$device.json" | head -2
done
grep -h "skipped" "$OUT"/e2e_*.log | sort -u
python3 bench/plot_e2e.py "$OUT" "$OUT" 2>/dev/null || echo "plot: run bench/plot_e2e.py on the dev machine"
