#!/bin/bash
# One call on the GPU machine for the model runtime: the CUDA forward pass against the CPU runtime
# (GPU tests), perplexity with --device cuda next to --device cpu on the bundled model, and the
# end-to-end decode sweep (bench-e2e) at 7B scale. Binaries are built on the dev machine with
# -DADAMAS_SHARED_LIB=ON -DADAMAS_STATIC_BLAS=ON and carried in BIN_DIR with libadamas.so.
# usage: bench/run_e2e_suite.sh BIN_DIR OUT_DIR   (BIN_DIR: the unpacked carry, e.g. tar xJf .cuda-run/bin.tar.xz -C /tmp)
set -u
BIN=$(readlink -f "$1")
OUT=$2
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
echo "== decoder tests"
"$BIN/adamas_cuda_tests" --gtest_filter='*CudaDecoder*' > "$OUT/decoder_tests.log" 2>&1; echo "exit $?"; grep -E "PASSED|FAILED|Failure|error" "$OUT/decoder_tests.log" | head
echo "== bench-e2e"
B="$BIN/adamas bench-e2e --iterations 10"
timeout 100 $B --shape longchat-7b --contexts 8192,32768,131072 --policies full,adamas --budgets 64,256,1024 --json > "$OUT/e2e_longchat.json" 2> "$OUT/e2e_longchat.log"; echo "longchat exit $?"
timeout 40 $B --shape longchat-7b --contexts 32768 --batches 4 --policies full,adamas --budgets 256 --json > "$OUT/e2e_longchat_b4.json" 2> "$OUT/e2e_longchat_b4.log"; echo "longchat b4 exit $?"
timeout 40 $B --shape llama3-8b --contexts 32768,131072 --batches 1 --policies full,adamas --budgets 256 --json > "$OUT/e2e_llama3.json" 2> "$OUT/e2e_llama3.log"; echo "llama3 exit $?"
echo "== ppl cpu vs cuda (bundled model, 512 tokens)"
for device in cpu cuda; do
  "$BIN/adamas" ppl --model models/adamas-tiny-8k --text data/heldout/austen_persuasion.txt --max-tokens 512 \
    --policy adamas --budget 64 --kv-dtype f32 --device $device --no-progress --json > "$OUT/ppl_$device.json" 2>&1
  echo "$device exit $?"; grep -E '"perplexity"|error' "$OUT/ppl_$device.json" | head -2
done
tail -3 "$OUT"/e2e_*.log
