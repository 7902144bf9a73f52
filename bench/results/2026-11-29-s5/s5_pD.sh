#!/usr/bin/env bash
# session 5: SmolLM2 passkey at 4K, 100 prompts: full / paper L1 / oracle, calibrated L1, asymmetric (reference rows for the ablation)
set -u
mkdir -p /tmp/gguf_parts && cp .gguf-parts/part02 /tmp/gguf_parts/
cat /tmp/gguf_parts/part00 /tmp/gguf_parts/part01 /tmp/gguf_parts/part02 > /tmp/smol.gguf
sha256sum /tmp/smol.gguf
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); mkdir -p $OUT/pk
C="--model /tmp/smol.gguf --no-progress --weights bf16 --device cuda --task passkey --length 4096 --trials 20 --depths 0,25,50,75,100 --filler data/heldout/austen_persuasion.txt --budgets 16,32,64,128,256,512,1024"
for r in "paper:--policies full,adamas,oracle --thresholds=-10,0,10" "cal:--policies adamas --calibrate-after 128 --calibration-quantiles 0.25,0.5,0.75" \
         "asym:--policies adamas --estimator asymmetric --calibrate-after 128 --calibration-quantiles 0.1,0.5,0.9"; do
  n=${r%%:*}; timeout 320 /tmp/bin/adamas sweep $C ${r#*:} --csv $OUT/pk/len4096_${n}_100.csv --title "passkey smollm2 4096 tokens ($n, 100 prompts)" > /tmp/pk_$n.log 2>&1 &
done
wait; echo "done after $(( $(date +%s) - t0 )) s"
for f in $OUT/pk/*.csv; do echo $f; cut -d, -f2-4 $f | tr '\n' ' '; echo; done
tail -n 3 /tmp/pk_*.log
